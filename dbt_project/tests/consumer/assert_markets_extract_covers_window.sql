-- The extract holds exactly the curated trades whose trade_date is in the extract_window_days window ending at as_of_date, cancelled ones included.
with

markets_extract as (

    select * from {{ ref('markets_extract') }}

),

trades_enriched as (

    select * from {{ ref('trades_enriched') }}

),

trades_expected_in_extract as (

    select trade_id
    from trades_enriched
    where
        trade_date >= {{ window_start_date(var('extract_window_days')) }}
        and trade_date <= {{ as_of_date_literal() }}

),

missing_from_extract as (

    select trade_id, 'missing from extract' as problem
    from trades_expected_in_extract
    where trade_id not in (select trade_id from markets_extract)

),

outside_window as (

    select trade_id, 'outside the extract window' as problem
    from markets_extract
    where trade_id not in (select trade_id from trades_expected_in_extract)

)

select * from missing_from_extract
union all
select * from outside_window

with

trades_enriched as (

    select * from {{ ref('trades_enriched') }}

),

trades_in_extract_window as (

    select *
    from trades_enriched
    where
        trade_date >= {{ window_start_date(var('extract_window_days')) }}
        and trade_date <= {{ as_of_date_literal() }}

),

-- Vendor-facing columns in the order of the extract contract; cancelled trades stay, flagged.
extract_columns_selected as (

    select
        trade_id,
        source_name,
        source_system,
        source_trade_id,
        trade_version,
        event_type,
        is_cancelled,
        trade_date,
        executed_at,
        settlement_date,
        isin,
        instrument_name,
        asset_class,
        side,
        quantity,
        price,
        currency,
        notional,
        trader_id,
        trader_name,
        desk,
        book_id,
        legal_entity_lei,
        counterparty_lei,
        counterparty_name,
        venue_mic,
        _file_id,
        _ingested_at
    from trades_in_extract_window

)

select * from extract_columns_selected

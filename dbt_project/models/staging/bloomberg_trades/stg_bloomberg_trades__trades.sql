-- Generated from source_specs/trading/bloomberg_trades.yaml by orchestrator/specs/dbt_codegen.py: do not edit; change the spec and regenerate.
with

source as (

    select * from {{ source('raw', 'bloomberg_trades') }}

),

renamed as (

    select
        -- ids
        cast(ticket_number as {{ dbt.type_string() }}) as source_trade_id,
        cast(isin as {{ dbt.type_string() }}) as isin,
        cast(trader_uuid as {{ dbt.type_string() }}) as trader_id,
        cast(book as {{ dbt.type_string() }}) as book_id,
        cast(counterparty_lei as {{ dbt.type_string() }}) as counterparty_lei,
        cast(venue as {{ dbt.type_string() }}) as venue_mic,

        -- strings
        cast('bloomberg_trades' as {{ dbt.type_string() }}) as source_name,
        cast('trading' as {{ dbt.type_string() }}) as domain,
        cast('BLOOMBERG' as {{ dbt.type_string() }}) as source_system,
        cast(CASE action WHEN 'New' THEN 'NEW' WHEN 'Correct' THEN 'AMEND' ELSE 'CANCEL' END as {{ dbt.type_string() }}) as event_type,
        cast(CASE side WHEN 'B' THEN 'BUY' ELSE 'SELL' END as {{ dbt.type_string() }}) as side,
        cast(currency as {{ dbt.type_string() }}) as currency,

        -- numerics
        cast(revision + 1 as {{ dbt.type_bigint() }}) as trade_version,
        cast(amount as {{ type_decimal() }}) as quantity,
        cast(price as {{ type_decimal() }}) as price,

        -- timestamps
        cast(trade_date as date) as trade_date,
        cast(exec_time as {{ dbt.type_timestamp() }}) as executed_at,
        cast(settle_date as date) as settlement_date,

        -- lineage
        _file_id,
        _landing_key,
        _source_row_number,
        _business_date,
        _ingested_at

    from source

),

latest_rows as (

    {{ latest_row_per_key('renamed', 'source_trade_id', ['trade_version desc', '_ingested_at desc', '_file_id desc', '_source_row_number desc']) }}

)

select * from latest_rows

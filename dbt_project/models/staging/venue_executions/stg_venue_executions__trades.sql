-- Generated from source_specs/trading/venue_executions.yaml by orchestrator/specs/dbt_codegen.py: do not edit; change the spec and regenerate.
with

source as (

    select * from {{ source('raw', 'venue_executions') }}

),

renamed as (

    select
        -- ids
        cast(exec_id as {{ dbt.type_string() }}) as source_trade_id,
        cast(isin as {{ dbt.type_string() }}) as isin,
        cast(trader_id as {{ dbt.type_string() }}) as trader_id,
        cast(book_id as {{ dbt.type_string() }}) as book_id,
        cast(cpty_lei as {{ dbt.type_string() }}) as counterparty_lei,
        cast(mic as {{ dbt.type_string() }}) as venue_mic,

        -- strings
        cast('venue_executions' as {{ dbt.type_string() }}) as source_name,
        cast('trading' as {{ dbt.type_string() }}) as domain,
        cast('VENUE_GW' as {{ dbt.type_string() }}) as source_system,
        cast(exec_type as {{ dbt.type_string() }}) as event_type,
        cast(side as {{ dbt.type_string() }}) as side,
        cast(ccy as {{ dbt.type_string() }}) as currency,

        -- numerics
        cast(exec_version as {{ dbt.type_bigint() }}) as trade_version,
        cast(qty as {{ type_decimal() }}) as quantity,
        cast(px as {{ type_decimal() }}) as price,

        -- timestamps
        cast(trade_date as date) as trade_date,
        cast(exec_ts as {{ dbt.type_timestamp() }}) as executed_at,
        cast(null as date) as settlement_date,

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

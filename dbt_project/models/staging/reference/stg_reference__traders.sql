-- Generated from source_specs/reference/traders.yaml by orchestrator/specs/dbt_codegen.py: do not edit; change the spec and regenerate.
with

source as (

    select * from {{ source('raw', 'traders') }}

),

renamed as (

    select
        -- ids
        cast(trader_id as {{ dbt.type_string() }}) as trader_id,

        -- strings
        cast(trader_name as {{ dbt.type_string() }}) as trader_name,
        cast(desk as {{ dbt.type_string() }}) as desk,
        cast(email as {{ dbt.type_string() }}) as email,

        -- booleans
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,

        -- timestamps
        cast(as_of_date as date) as as_of_date,
        cast(_business_date as {{ dbt.type_timestamp() }}) as effective_from_at,

        -- lineage
        _file_id,
        _landing_key,
        _source_row_number,
        _business_date,
        _ingested_at

    from source

),

latest_rows as (

    {{ latest_row_per_key('renamed', 'trader_id', ['_business_date desc', '_ingested_at desc', '_file_id desc', '_source_row_number desc']) }}

)

select * from latest_rows

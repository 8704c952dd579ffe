-- Generated from source_specs/reference/counterparties.yaml by orchestrator/specs/dbt_codegen.py: do not edit; change the spec and regenerate.
with

source as (

    select * from {{ source('raw', 'counterparties') }}

),

renamed as (

    select
        -- ids
        cast(counterparty_lei as {{ dbt.type_string() }}) as counterparty_lei,

        -- strings
        cast(counterparty_name as {{ dbt.type_string() }}) as counterparty_name,
        cast(country_code as {{ dbt.type_string() }}) as country_code,
        cast(counterparty_type as {{ dbt.type_string() }}) as counterparty_type,

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

    {{ latest_row_per_key('renamed', 'counterparty_lei', ['_business_date desc', '_ingested_at desc', '_file_id desc', '_source_row_number desc']) }}

)

select * from latest_rows

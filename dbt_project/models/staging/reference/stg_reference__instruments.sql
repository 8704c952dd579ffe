-- Generated from source_specs/reference/instruments.yaml by orchestrator/specs/dbt_codegen.py: do not edit; change the spec and regenerate.
with

source as (

    select * from {{ source('raw', 'instruments') }}

),

renamed as (

    select
        -- ids
        cast(isin as {{ dbt.type_string() }}) as isin,
        cast(cusip as {{ dbt.type_string() }}) as cusip,
        cast(primary_mic as {{ dbt.type_string() }}) as primary_mic,

        -- strings
        cast(instrument_name as {{ dbt.type_string() }}) as instrument_name,
        cast(asset_class as {{ dbt.type_string() }}) as asset_class,
        cast(currency as {{ dbt.type_string() }}) as currency,

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

    {{ latest_row_per_key('renamed', 'isin', ['_business_date desc', '_ingested_at desc', '_file_id desc', '_source_row_number desc']) }}

)

select * from latest_rows

-- Generated from source_specs/reference/books.yaml by orchestrator/specs/dbt_codegen.py: do not edit; change the spec and regenerate.
with

source as (

    select * from {{ source('raw', 'books') }}

),

renamed as (

    select
        -- ids
        cast(book_id as {{ dbt.type_string() }}) as book_id,
        cast(legal_entity_lei as {{ dbt.type_string() }}) as legal_entity_lei,

        -- strings
        cast(book_name as {{ dbt.type_string() }}) as book_name,
        cast(desk as {{ dbt.type_string() }}) as desk,
        cast(region as {{ dbt.type_string() }}) as region,

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

    {{ latest_row_per_key('renamed', 'book_id', ['_business_date desc', '_ingested_at desc', '_file_id desc', '_source_row_number desc']) }}

)

select * from latest_rows

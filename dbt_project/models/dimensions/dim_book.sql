with

books_snapshot as (

    select * from {{ ref('snp_reference__books') }}

),

versions_numbered as (

    select
        *,
        row_number() over (partition by book_id order by dbt_valid_from) as version_number
    from books_snapshot

),

-- First version valid since the beginning of time, later ones from the start of their
-- file's business date (see dim_trader).
validity_windows_derived as (

    select
        -- ids
        dbt_scd_id as book_version_id,
        book_id,
        legal_entity_lei,

        -- strings
        book_name,
        desk,
        region,

        -- numerics
        version_number,

        -- booleans
        dbt_valid_to is null as is_current,

        -- timestamps
        case
            when version_number = 1 then {{ scd2_open_start() }}
            else dbt_valid_from
        end as valid_from,
        coalesce(dbt_valid_to, {{ scd2_open_end() }}) as valid_to,
        _business_date as source_business_date

    from versions_numbered

)

select * from validity_windows_derived

with

traders_snapshot as (

    select * from {{ ref('snp_reference__traders') }}

),

versions_numbered as (

    select
        *,
        row_number() over (partition by trader_id order by dbt_valid_from) as version_number
    from traders_snapshot

),

-- dbt runs after (sometimes long after) the business date, so the first version we
-- saw is taken to have held since the beginning of time; later versions take effect
-- at the start of the business date of the file that changed them.
validity_windows_derived as (

    select
        -- ids
        dbt_scd_id as trader_version_id,
        trader_id,

        -- strings
        trader_name,
        desk,
        email,

        -- numerics
        version_number,

        -- booleans
        is_active,
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

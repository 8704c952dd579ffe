-- Every trader has exactly one current version, and it is the one that runs to the open end (9999-12-31).
with

dim_trader as (

    select * from {{ ref('dim_trader') }}

),

current_versions_counted as (

    select
        trader_id,
        sum(case when is_current then 1 else 0 end) as current_versions,
        sum(case when is_current and valid_to = {{ scd2_open_end() }} then 1 else 0 end) as open_current_versions
    from dim_trader
    group by trader_id

)

select *
from current_versions_counted
where current_versions != 1 or open_current_versions != 1

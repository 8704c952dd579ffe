-- source_completeness has one row per expected source per business date in the lookback window: every day for daily sources, Monday to Friday for weekdays sources.
{%- set end = modules.datetime.datetime.strptime(as_of_date(), '%Y-%m-%d').date() -%}
{%- set days = var('lookback_days') | int -%}
{%- set weekdays = [] -%}
{%- for offset in range(days) -%}
    {%- if (end - modules.datetime.timedelta(days=offset)).weekday() < 5 -%}
        {%- do weekdays.append(offset) -%}
    {%- endif -%}
{%- endfor %}

with

expected_sources as (

    select * from {{ ref('expected_sources') }}

),

source_completeness as (

    select * from {{ ref('source_completeness') }}

),

rows_per_source as (

    select
        source,
        count(*) as business_dates
    from source_completeness
    group by source

),

sources_checked as (

    select
        expected_sources.source,
        coalesce(rows_per_source.business_dates, 0) as business_dates,
        case
            when expected_sources.frequency = 'daily' then {{ days }}
            else {{ weekdays | length }}
        end as expected_business_dates
    from expected_sources
    left join rows_per_source
        on expected_sources.source = rows_per_source.source

)

select *
from sources_checked
where business_dates != expected_business_dates

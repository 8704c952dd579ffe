-- source_completeness has one row per expected source per business date in the lookback window, and no other:
-- every day for daily sources, Monday to Friday for weekdays sources, none before a source's expected_from.
with

expected_sources as (

    select * from {{ ref('expected_sources') }}

),

source_completeness as (

    select * from {{ ref('source_completeness') }}

),

calendar_days as (

    {{ calendar_days(var('lookback_days')) }}

),

expected_rows as (

    select
        expected_sources.source,
        calendar_days.business_date
    from expected_sources
    cross join calendar_days
    where
        (expected_sources.frequency = 'daily' or not calendar_days.is_weekend)
        and (expected_sources.expected_from is null or calendar_days.business_date >= expected_sources.expected_from)

),

rows_compared as (

    select
        coalesce(expected_rows.source, source_completeness.source) as source,
        coalesce(expected_rows.business_date, source_completeness.business_date) as business_date,
        expected_rows.source is not null as is_expected,
        source_completeness.source is not null as is_present
    from expected_rows
    full outer join source_completeness
        on expected_rows.source = source_completeness.source
        and expected_rows.business_date = source_completeness.business_date

)

select *
from rows_compared
where is_expected != is_present

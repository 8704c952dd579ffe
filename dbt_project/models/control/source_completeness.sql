{#-
    The window: lookback_days days ending on as_of_date. Deadlines (expected_by) are
    UTC times on the business date; a source with frequency 'weekdays' is not
    expected on Saturdays and Sundays, and none before its expected_from (go-live).
-#}
with

expected_sources as (

    select * from {{ ref('expected_sources') }}

),

ingested_files as (

    select * from {{ source('control', 'ingested_files') }}

),

calendar_days as (

    {{ calendar_days(var('lookback_days')) }}

),

expected_deliveries as (

    select
        expected_sources.source,
        expected_sources.kind,
        calendar_days.business_date,
        expected_sources.min_files_per_day,
        expected_sources.max_files_per_day,
        expected_sources.typical_rows_min,
        expected_sources.typical_rows_max,
        {{ parse_timestamp(
            "cast(calendar_days.business_date as " ~ dbt.type_string() ~ ") || ' ' || expected_sources.expected_by",
            '%Y-%m-%d %H:%M'
        ) }} as deadline_at
    from expected_sources
    cross join calendar_days
    where (expected_sources.frequency = 'daily' or not calendar_days.is_weekend)
        and (expected_sources.expected_from is null or calendar_days.business_date >= expected_from)

),

deliveries_joined_to_files as (

    select
        expected_deliveries.*,
        ingested_files.file_id,
        ingested_files.outcome,
        ingested_files.rows_loaded,
        ingested_files.landed_at,
        ingested_files.landed_at > expected_deliveries.deadline_at as is_late
    from expected_deliveries
    left join ingested_files
        on expected_deliveries.source = ingested_files.source
        and expected_deliveries.business_date = ingested_files.business_date

),

deliveries_counted as (

    select
        source,
        kind,
        business_date,
        min_files_per_day,
        max_files_per_day,
        typical_rows_min,
        typical_rows_max,
        deadline_at,
        count(distinct case when outcome = 'loaded' then file_id end) as files_loaded,
        count(distinct case when outcome = 'loaded' and is_late then file_id end) as files_late,
        count(distinct case when outcome = 'failed' then file_id end) as files_failed,
        coalesce(sum(case when outcome = 'loaded' then rows_loaded end), 0) as rows_loaded,
        min(case when outcome = 'loaded' then landed_at end) as first_landed_at,
        max(case when outcome = 'loaded' then landed_at end) as last_landed_at
    from deliveries_joined_to_files
    group by
        source,
        kind,
        business_date,
        min_files_per_day,
        max_files_per_day,
        typical_rows_min,
        typical_rows_max,
        deadline_at

),

-- Failed files do not count as arrived: their rows never reached the warehouse.
statuses_assigned as (

    select
        *,
        case
            when files_loaded = 0 and deadline_at > {{ run_started_at_literal() }} then 'PENDING'
            when files_loaded = 0 then 'MISSING'
            when files_loaded < min_files_per_day then 'PARTIAL'
            when files_late > 0 then 'LATE'
            else 'ON_TIME'
        end as status
    from deliveries_counted

)

select * from statuses_assigned

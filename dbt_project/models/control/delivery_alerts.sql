{#-
    What the hourly batch cycle pages on-call for, judged when dbt runs: on the business
    date it builds for and the one before (feeds that land the next morning), each source
    still short of files past its deadline, and each complete delivery whose row count is
    anomalous. orchestrator/batch/findings.py raises one alert per row.
-#}
{%- set alert_days = 2 -%}
{%- set as_of = modules.datetime.datetime.strptime(as_of_date(), '%Y-%m-%d').date() -%}
{%- set first_alert_date = as_of - modules.datetime.timedelta(days=alert_days - 1) -%}

with

source_completeness as (

    select * from {{ ref('source_completeness') }}

),

row_count_anomalies as (

    select * from {{ ref('row_count_anomalies') }}

),

ingested_files as (

    select * from {{ source('control', 'ingested_files') }}

),

-- Alerting starts with the first business date the platform received any file for, so a
-- first deployment on an empty warehouse does not page for every source on the days before.
monitoring_started as (

    select min(business_date) as first_business_date
    from ingested_files

),

deliveries_in_window as (

    select source_completeness.*
    from source_completeness
    cross join monitoring_started
    where source_completeness.business_date >= monitoring_started.first_business_date
        and source_completeness.business_date between cast('{{ first_alert_date.isoformat() }}' as date) and cast('{{ as_of.isoformat() }}' as date)

),

deliveries_joined_to_anomalies as (

    select
        deliveries_in_window.source,
        deliveries_in_window.business_date,
        deliveries_in_window.status as delivery_status,
        deliveries_in_window.deadline_at,
        deliveries_in_window.files_loaded,
        deliveries_in_window.min_files_per_day,
        deliveries_in_window.max_files_per_day,
        deliveries_in_window.files_failed,
        deliveries_in_window.rows_loaded,
        deliveries_in_window.deadline_at <= {{ run_started_at_literal() }} as is_past_deadline,
        row_count_anomalies.trailing_mean_rows,
        row_count_anomalies.rows_z_score,
        coalesce(row_count_anomalies.is_anomaly, false) as is_anomaly,
        case
            when row_count_anomalies.is_z_score_anomaly and row_count_anomalies.rows_z_score is not null
                then 'z_score'
            when row_count_anomalies.is_outside_typical_rows then 'typical_rows'
            when row_count_anomalies.is_z_score_anomaly then 'flat_history'
        end as anomaly_kind
    from deliveries_in_window
    left join row_count_anomalies
        on deliveries_in_window.source = row_count_anomalies.source
        and deliveries_in_window.business_date = row_count_anomalies.business_date

),

-- MISSING is only ever past the deadline (PENDING before it); PARTIAL is a day still arriving
-- until its deadline. A day's volume is judged once it is complete: all its files in, or its
-- deadline passed with at least its minimum, so a source that sends up to 24 files a day is not
-- judged on its first.
alerts_judged as (

    select
        *,
        case
            when delivery_status = 'MISSING' or (delivery_status = 'PARTIAL' and is_past_deadline)
                then 'SOURCE_MISSING'
            when is_anomaly
                and delivery_status in ('ON_TIME', 'LATE')
                and (files_loaded >= max_files_per_day or is_past_deadline)
                then 'VOLUME_ANOMALY'
        end as alert
    from deliveries_joined_to_anomalies

),

alerts_raised as (

    select
        alert,
        source,
        business_date,
        delivery_status,
        deadline_at,
        files_loaded,
        min_files_per_day,
        max_files_per_day,
        files_failed,
        rows_loaded,
        trailing_mean_rows,
        rows_z_score,
        anomaly_kind
    from alerts_judged
    where alert is not null

)

select * from alerts_raised

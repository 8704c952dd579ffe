{#-
    Daily view of the regulatory lane for the status report and on-call: events per
    reconciliation status and the time from event to the regulator's acknowledgement.
    Percentiles are exact on DuckDB and approximate to 1% on BigQuery (percentile macro).
-#}
{{ config(materialized='table') }}

with

reconciliation as (

    select * from {{ ref('regulatory_reconciliation') }}

),

statuses_per_day as (

    select
        cast(event_at as date) as event_date,
        count(*) as events,
        sum(case when reconciliation_status = 'SUBMITTED' then 1 else 0 end) as submitted_on_time,
        sum(case when reconciliation_status = 'LATE' then 1 else 0 end) as submitted_late,
        sum(case when reconciliation_status = 'DEAD_LETTERED' then 1 else 0 end) as dead_lettered,
        sum(case when reconciliation_status = 'MISSED' then 1 else 0 end) as missed,
        sum(case when reconciliation_status = 'PENDING' then 1 else 0 end) as pending,
        sum(case when is_breach then 1 else 0 end) as breaches
    from reconciliation
    group by cast(event_at as date)

),

-- Only acknowledged events have a latency; a day without any keeps null percentiles.
latency_per_day as (

    select
        cast(event_at as date) as event_date,
        {{ percentile('minutes_to_submit * 60', 0.5) }} as seconds_to_submit_p50,
        {{ percentile('minutes_to_submit * 60', 0.95) }} as seconds_to_submit_p95,
        max(minutes_to_submit * 60) as seconds_to_submit_max
    from reconciliation
    where minutes_to_submit is not null
    group by cast(event_at as date)

),

statuses_joined_to_latency as (

    select
        statuses_per_day.event_date,
        statuses_per_day.events,
        statuses_per_day.submitted_on_time,
        statuses_per_day.submitted_late,
        statuses_per_day.dead_lettered,
        statuses_per_day.missed,
        statuses_per_day.pending,
        statuses_per_day.breaches,
        latency_per_day.seconds_to_submit_p50,
        latency_per_day.seconds_to_submit_p95,
        latency_per_day.seconds_to_submit_max,
        {{ var('regulatory_sla_minutes', 15) }} * 60 as sla_seconds
    from statuses_per_day
    left join latency_per_day
        on statuses_per_day.event_date = latency_per_day.event_date

)

select * from statuses_joined_to_latency

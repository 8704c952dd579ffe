{{ config(materialized='table') }}

{#-
    Lag per hour of ingestion over the last stream_lag_lookback_hours: from the event
    (its own timestamp) to the warehouse, and from the Kafka produce to the warehouse
    (the pipeline alone, without the producer's delay).
-#}
{%- set lookback_hours = var('stream_lag_lookback_hours', 48) | int -%}

with

int_streams__events as (

    select * from {{ ref('int_streams__events') }}

),

stream_events as (

    select
        source,
        kafka_topic,
        kafka_partition,
        {{ dbt.date_trunc('hour', 'ingested_at') }} as ingested_hour,
        {{ dbt.datediff('event_at', 'ingested_at', 'millisecond') }} / 60000.0 as event_to_warehouse_minutes,
        {{ dbt.datediff('kafka_produced_at', 'ingested_at', 'millisecond') }} / 1000.0 as kafka_to_warehouse_seconds
    from int_streams__events
    where ingested_at >= {{ add_minutes(run_started_at_literal(), -60 * lookback_hours) }}

),

lag_per_hour as (

    select
        source,
        kafka_topic,
        kafka_partition,
        ingested_hour,
        count(*) as events,
        {{ percentile('event_to_warehouse_minutes', 0.5) }} as lag_minutes_p50,
        {{ percentile('event_to_warehouse_minutes', 0.95) }} as lag_minutes_p95,
        max(event_to_warehouse_minutes) as lag_minutes_max,
        {{ percentile('kafka_to_warehouse_seconds', 0.5) }} as pipeline_lag_seconds_p50,
        {{ percentile('kafka_to_warehouse_seconds', 0.99) }} as pipeline_lag_seconds_p99
    from stream_events
    group by source, kafka_topic, kafka_partition, ingested_hour

)

select * from lag_per_hour

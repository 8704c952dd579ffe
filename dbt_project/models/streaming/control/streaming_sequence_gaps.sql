{{ config(materialized='table') }}

{#-
    A gap is a run of sequence numbers missing between two curated events of the same
    source, Kafka topic and partition. Events first ingested within
    stream_gap_lookback_hours of the run are compared, so a gap whose lower bound is
    older than that window is no longer reported. Severity by missing count: LOW 1,
    MEDIUM from stream_gap_medium_from, HIGH from stream_gap_high_from, CRITICAL from
    stream_gap_critical_from. A gap younger than stream_gap_grace_minutes may still be
    filled by messages in flight (Pub/Sub delivers out of order): is_confirmed is false.
-#}
{%- set lookback_hours = var('stream_gap_lookback_hours', 48) | int -%}
{%- set medium_from = var('stream_gap_medium_from', 2) | int -%}
{%- set high_from = var('stream_gap_high_from', 10) | int -%}
{%- set critical_from = var('stream_gap_critical_from', 100) | int -%}
{%- set grace_minutes = var('stream_gap_grace_minutes', 15) | int -%}

with

int_streams__events as (

    select * from {{ ref('int_streams__events') }}

),

-- Each stream numbers its events per Kafka partition.
stream_events as (

    select
        source,
        kafka_topic,
        kafka_partition,
        sequence_number,
        event_id,
        ingested_at
    from int_streams__events
    where ingested_at >= {{ add_minutes(run_started_at_literal(), -60 * lookback_hours) }}

),

events_followed_by_next as (

    select
        *,
        lead(sequence_number) over partition_in_sequence as next_sequence_number,
        lead(event_id) over partition_in_sequence as next_event_id,
        lead(ingested_at) over partition_in_sequence as next_ingested_at
    from stream_events
    window partition_in_sequence as (
        partition by source, kafka_topic, kafka_partition
        order by sequence_number
    )

),

gaps_found as (

    select
        source,
        kafka_topic,
        kafka_partition,
        sequence_number + 1 as first_missing_sequence,
        next_sequence_number - 1 as last_missing_sequence,
        next_sequence_number - sequence_number - 1 as missing_count,
        event_id as previous_event_id,
        next_event_id,
        -- The gap shows once both of its bounds have landed.
        case when next_ingested_at > ingested_at then next_ingested_at else ingested_at end as detected_at
    from events_followed_by_next
    where next_sequence_number - sequence_number > 1

),

gaps_classified as (

    select
        *,
        case
            when missing_count >= {{ critical_from }} then 'CRITICAL'
            when missing_count >= {{ high_from }} then 'HIGH'
            when missing_count >= {{ medium_from }} then 'MEDIUM'
            else 'LOW'
        end as severity,
        detected_at <= {{ add_minutes(run_started_at_literal(), -grace_minutes) }} as is_confirmed,
        {{ run_started_at_literal() }} as checked_at
    from gaps_found

)

select * from gaps_classified

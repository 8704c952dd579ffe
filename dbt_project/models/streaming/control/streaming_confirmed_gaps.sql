{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        full_refresh=false,
        partition_by=(
            {'field': 'detected_at', 'data_type': 'timestamp', 'granularity': 'day'}
            if target.type == 'bigquery' else none
        )
    )
}}

{#-
    Every sequence gap once the grace period has confirmed it, recorded by the build
    that first sees it confirmed: streaming_sequence_gaps is rebuilt each hour over
    its lookback window, this table keeps the record. A row, once recorded, is never
    rewritten, so `mdp stream build` reports (and alerts on) each gap once, and
    `--full-refresh` keeps the table (full_refresh=false). A late event that splits a
    gap makes new gaps, which are recorded when they are confirmed.
-#}

with

streaming_sequence_gaps as (

    select * from {{ ref('streaming_sequence_gaps') }}

),

gaps_confirmed as (

    select
        source,
        kafka_topic,
        kafka_partition,
        first_missing_sequence,
        last_missing_sequence,
        missing_count,
        severity,
        previous_event_id,
        next_event_id,
        detected_at
    from streaming_sequence_gaps
    where is_confirmed

),

gaps_recorded as (

    {{ record_once('gaps_confirmed', [
        'source', 'kafka_topic', 'kafka_partition', 'first_missing_sequence', 'last_missing_sequence'
    ]) }}

)

select * from gaps_recorded

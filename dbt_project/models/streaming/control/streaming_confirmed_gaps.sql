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

gaps_new as (

    select *
    from gaps_confirmed
    {%- if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as recorded
        where
            recorded.source = gaps_confirmed.source
            and recorded.kafka_topic = gaps_confirmed.kafka_topic
            and recorded.kafka_partition = gaps_confirmed.kafka_partition
            and recorded.first_missing_sequence = gaps_confirmed.first_missing_sequence
            and recorded.last_missing_sequence = gaps_confirmed.last_missing_sequence
    )
    {%- endif %}

),

gaps_recorded as (

    select
        *,
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as _dbt_invocation_id,
        {{ run_started_at_literal() }} as _recorded_at
    from gaps_new

)

select * from gaps_recorded

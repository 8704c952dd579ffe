{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        full_refresh=false,
        partition_by=(
            {'field': 'ingested_at', 'data_type': 'timestamp', 'granularity': 'day'}
            if target.type == 'bigquery' else none
        )
    )
}}

{#-
    Every stream event its stream spec rejects (a required field missing, a value
    that does not convert to its column type or is not an allowed value; see macro
    stream_rejection_reason), one row per source and event_id, with the reason and
    the payload. Rejected events stay out of the curated models; their sequence
    numbers are not gaps. Each hourly build adds the rejected events staging holds
    that are not recorded yet; a row, once recorded, is never rewritten, and
    `mdp stream build --full-refresh` keeps the table (full_refresh=false): raw
    keeps 30 days, this record of what was rejected stays.
-#}

with

{% for model in stream_staging_models() %}
{{ model }} as (

    select
        source,
        event_id,
        message_id,
        kafka_topic,
        kafka_partition,
        kafka_offset,
        sequence_number,
        rejection_reason,
        rejected_payload,
        event_at,
        kafka_produced_at,
        published_at,
        ingested_at
    from {{ ref(model) }}
    where rejection_reason is not null

),

{% endfor -%}

rejected_events_unioned as (

    {% for model in stream_staging_models() -%}
    select * from {{ model }}
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}

),

rejected_events_recorded as (

    {{ record_once('rejected_events_unioned', ['source', 'event_id']) }}

)

select * from rejected_events_recorded

{#-
    Every stream event that landed, curated or rejected by its spec, with the columns
    all streams share, so the control models (lag, sequence gaps) cover each stream
    spec without naming it, and a rejected event is not a gap. The curated models come
    from the generated macro stream_curated_models().
-#}
{{ config(materialized='view') }}

{%- set shared_columns = [
    'source', 'kafka_topic', 'kafka_partition', 'sequence_number', 'event_id', 'event_at', 'kafka_produced_at',
    'ingested_at'
] %}

with

{% for model in stream_curated_models() %}
{{ model }} as (

    select {{ shared_columns | join(', ') }} from {{ ref(model) }}

),

{% endfor -%}

streaming_rejected_events as (

    select {{ shared_columns | join(', ') }} from {{ ref('streaming_rejected_events') }}

),

stream_events_unioned as (

    {% for model in stream_curated_models() -%}
    select * from {{ model }}
    union all
    {% endfor -%}
    select * from streaming_rejected_events

)

select * from stream_events_unioned

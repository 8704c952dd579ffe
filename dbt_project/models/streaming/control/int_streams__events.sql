{#-
    Every curated stream's events with the columns all streams share, so the control
    models (lag, sequence gaps) cover each stream spec without naming it. The curated
    models come from the generated macro stream_curated_models().
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

stream_events_unioned as (

    {% for model in stream_curated_models() -%}
    select * from {{ model }}
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}

)

select * from stream_events_unioned

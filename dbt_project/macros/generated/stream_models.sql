{# Generated from source_specs/streaming/*.yaml by streaming/dbt_codegen.py: do not edit; change the spec and regenerate. #}
{#
    The models of every stream spec, one per spec: stream_staging_models() returns
    the staging models, stream_curated_models() the curated ones. Models loop over
    them with ref() so dbt sees each dependency at parse time.
#}
{% macro stream_staging_models() -%}
    {{ return([
        'stg_rfq__events',
    ]) }}
{%- endmacro %}

{% macro stream_curated_models() -%}
    {{ return([
        'rfq_events',
    ]) }}
{%- endmacro %}

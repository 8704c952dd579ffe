{# Generated from source_specs/streaming/*.yaml by streaming/dbt_codegen.py: do not edit; change the spec and regenerate. #}
{#
    Returns the names of every curated stream model, one per stream spec. Models
    loop over it with ref() so dbt sees each dependency at parse time.
#}
{% macro stream_curated_models() -%}
    {{ return([
        'rfq_events',
    ]) }}
{%- endmacro %}

{#
    Returns a SQL string expression: the scalar at top-level `field` of the JSON
    object text in `expr`, as text (numbers as their digits); null when absent.
#}
{% macro json_text(expr, field) -%}
    {{ return(adapter.dispatch('json_text', 'markets')(expr, field)) }}
{%- endmacro %}

{% macro default__json_text(expr, field) -%}
    json_extract_string({{ expr }}, '$.{{ field }}')
{%- endmacro %}

{% macro duckdb__json_text(expr, field) -%}
    {{ markets.default__json_text(expr, field) }}
{%- endmacro %}

{% macro bigquery__json_text(expr, field) -%}
    json_value({{ expr }}, '$.{{ field }}')
{%- endmacro %}

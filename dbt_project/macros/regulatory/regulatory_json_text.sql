{#
    Returns a SQL string expression: the scalar at top-level key `key` of a JSON text
    expression, as text (null when absent). Used on Pub/Sub message data.
#}
{% macro regulatory_json_text(expr, key) -%}
    {{ return(adapter.dispatch('regulatory_json_text', 'markets')(expr, key)) }}
{%- endmacro %}

{% macro default__regulatory_json_text(expr, key) -%}
    json_extract_string({{ expr }}, '$.{{ key }}')
{%- endmacro %}

{% macro duckdb__regulatory_json_text(expr, key) -%}
    {{ markets.default__regulatory_json_text(expr, key) }}
{%- endmacro %}

{% macro bigquery__regulatory_json_text(expr, key) -%}
    json_value({{ expr }}, '$.{{ key }}')
{%- endmacro %}

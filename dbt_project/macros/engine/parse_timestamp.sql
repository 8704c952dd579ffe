{#
    Returns a SQL timestamp expression: the string expression parsed with the
    strptime-style `format` (for example '%Y-%m-%d %H:%M'), read as UTC.
#}
{% macro parse_timestamp(expr, format) -%}
    {{ return(adapter.dispatch('parse_timestamp', 'markets')(expr, format)) }}
{%- endmacro %}

{% macro default__parse_timestamp(expr, format) -%}
    strptime({{ expr }}, '{{ format }}')
{%- endmacro %}

{% macro duckdb__parse_timestamp(expr, format) -%}
    {{ markets.default__parse_timestamp(expr, format) }}
{%- endmacro %}

{% macro bigquery__parse_timestamp(expr, format) -%}
    parse_timestamp('{{ format }}', {{ expr }}, 'UTC')
{%- endmacro %}

{#
    Returns the SQL type of canonical decimals: exact, 38 digits with 9 after the
    point, like the raw tables (docs/batch_lane.md).
#}
{% macro type_decimal() -%}
    {{ return(adapter.dispatch('type_decimal', 'markets')()) }}
{%- endmacro %}

{% macro default__type_decimal() -%}
    decimal(38, 9)
{%- endmacro %}

{% macro duckdb__type_decimal() -%}
    decimal(38, 9)
{%- endmacro %}

{% macro bigquery__type_decimal() -%}
    numeric
{%- endmacro %}

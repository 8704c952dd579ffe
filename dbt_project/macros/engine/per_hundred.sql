{#
    Returns a SQL expression: a decimal expression divided by 100, exactly. On DuckDB `/`
    turns decimals into DOUBLE, so it multiplies by the DECIMAL(3, 2) literal 0.01; on
    BigQuery NUMERIC / INT64 stays NUMERIC, while a 0.01 literal could make it FLOAT64.
#}
{% macro per_hundred(expr) -%}
    {{ return(adapter.dispatch('per_hundred', 'markets')(expr)) }}
{%- endmacro %}

{% macro default__per_hundred(expr) -%}
    ({{ expr }}) * 0.01
{%- endmacro %}

{% macro duckdb__per_hundred(expr) -%}
    {{ markets.default__per_hundred(expr) }}
{%- endmacro %}

{% macro bigquery__per_hundred(expr) -%}
    ({{ expr }}) / 100
{%- endmacro %}

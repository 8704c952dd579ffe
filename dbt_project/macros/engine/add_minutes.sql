{#
    Returns a SQL timestamp expression: a TIMESTAMP expression plus a whole number of minutes (negative goes
    back). dbt.dateadd would turn a BigQuery TIMESTAMP into a DATETIME, which BigQuery will not compare with
    a TIMESTAMP.
#}
{% macro add_minutes(expr, minutes) -%}
    {{ return(adapter.dispatch('add_minutes', 'markets')(expr, minutes)) }}
{%- endmacro %}

{% macro default__add_minutes(expr, minutes) -%}
    ({{ expr }} + to_minutes(cast({{ minutes }} as bigint)))
{%- endmacro %}

{% macro duckdb__add_minutes(expr, minutes) -%}
    {{ markets.default__add_minutes(expr, minutes) }}
{%- endmacro %}

{% macro bigquery__add_minutes(expr, minutes) -%}
    timestamp_add({{ expr }}, interval {{ minutes }} minute)
{%- endmacro %}

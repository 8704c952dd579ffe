{#
    Returns a SQL expression: `expr` cast to the SQL type `type`, or null when it
    does not convert (where a plain cast fails the query).
#}
{% macro cast_or_null(expr, type) -%}
    {{ return(adapter.dispatch('cast_or_null', 'markets')(expr, type)) }}
{%- endmacro %}

{% macro default__cast_or_null(expr, type) -%}
    try_cast({{ expr }} as {{ type }})
{%- endmacro %}

{% macro duckdb__cast_or_null(expr, type) -%}
    {{ markets.default__cast_or_null(expr, type) }}
{%- endmacro %}

{% macro bigquery__cast_or_null(expr, type) -%}
    safe_cast({{ expr }} as {{ type }})
{%- endmacro %}

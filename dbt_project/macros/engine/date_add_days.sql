{#
    Returns a SQL date expression: date_expr plus n days (n may be negative or an
    integer SQL expression).
#}
{% macro date_add_days(date_expr, n) -%}
    {{ return(adapter.dispatch('date_add_days', 'markets')(date_expr, n)) }}
{%- endmacro %}

{% macro default__date_add_days(date_expr, n) -%}
    cast(({{ date_expr }}) + cast(({{ n }}) as integer) as date)
{%- endmacro %}

{% macro duckdb__date_add_days(date_expr, n) -%}
    {# date + integer stays a DATE in DuckDB; date + interval would become a TIMESTAMP #}
    cast(({{ date_expr }}) + cast(({{ n }}) as integer) as date)
{%- endmacro %}

{% macro bigquery__date_add_days(date_expr, n) -%}
    date_add({{ date_expr }}, interval ({{ n }}) day)
{%- endmacro %}

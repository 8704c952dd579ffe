{#
    Returns a SQL numeric expression: minutes (with fractions, to the second) from
    timestamp expression `start` to timestamp expression `finish`.
#}
{% macro minutes_between(start, finish) -%}
    {{ return(adapter.dispatch('minutes_between', 'markets')(start, finish)) }}
{%- endmacro %}

{% macro default__minutes_between(start, finish) -%}
    (date_diff('second', {{ start }}, {{ finish }}) / 60.0)
{%- endmacro %}

{% macro duckdb__minutes_between(start, finish) -%}
    {{ markets.default__minutes_between(start, finish) }}
{%- endmacro %}

{% macro bigquery__minutes_between(start, finish) -%}
    (timestamp_diff({{ finish }}, {{ start }}, second) / 60.0)
{%- endmacro %}

{#
    Returns a SQL timestamp expression for the moment the statement runs, in UTC
    (a TIMESTAMP on BigQuery; a naive UTC TIMESTAMP on DuckDB, like the columns it is
    compared with, whatever the session's time zone).
#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'markets')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    current_timestamp
{%- endmacro %}

{% macro duckdb__utc_now() -%}
    cast(timezone('UTC', now()) as timestamp)
{%- endmacro %}

{% macro bigquery__utc_now() -%}
    current_timestamp()
{%- endmacro %}

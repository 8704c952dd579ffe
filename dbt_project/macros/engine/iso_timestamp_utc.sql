{#
    Returns a SQL timestamp expression (UTC): the ISO 8601 text in `expr`, with
    'Z' or an offset, converted to UTC; null when the text is not a timestamp.
#}
{% macro iso_timestamp_utc(expr) -%}
    {{ return(adapter.dispatch('iso_timestamp_utc', 'markets')(expr)) }}
{%- endmacro %}

{% macro default__iso_timestamp_utc(expr) -%}
    (try_cast({{ expr }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__iso_timestamp_utc(expr) -%}
    {{ markets.default__iso_timestamp_utc(expr) }}
{%- endmacro %}

{% macro bigquery__iso_timestamp_utc(expr) -%}
    safe_cast({{ expr }} as timestamp)
{%- endmacro %}

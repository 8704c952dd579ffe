{#
    Returns a SQL timestamp expression: an ISO 8601 string with a zone (for example
    '2026-11-20T10:00:00Z') as a UTC timestamp, the convention of every warehouse table.
#}
{% macro regulatory_iso_timestamp(expr) -%}
    {{ return(adapter.dispatch('regulatory_iso_timestamp', 'markets')(expr)) }}
{%- endmacro %}

{% macro default__regulatory_iso_timestamp(expr) -%}
    cast(cast({{ expr }} as timestamptz) at time zone 'UTC' as timestamp)
{%- endmacro %}

{% macro duckdb__regulatory_iso_timestamp(expr) -%}
    {{ markets.default__regulatory_iso_timestamp(expr) }}
{%- endmacro %}

{% macro bigquery__regulatory_iso_timestamp(expr) -%}
    timestamp({{ expr }})
{%- endmacro %}

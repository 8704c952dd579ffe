{#
    Returns a SQL expression: the deterministic regulatory event id, lowercase hex MD5 of
    "{markets_namespace}:{domain}:{source_system}:{source_trade_id}:event:{source_event_id}".
    Arguments are SQL expressions. Must equal Python orchestrator.identity.event_id (a test pins both).
#}
{% macro event_id(domain, source_system, source_trade_id, source_event_id) -%}
    {{ return(adapter.dispatch('event_id', 'markets')(domain, source_system, source_trade_id, source_event_id)) }}
{%- endmacro %}

{% macro default__event_id(domain, source_system, source_trade_id, source_event_id) -%}
    {%- set namespace_literal = "'" ~ (var('markets_namespace') | replace("'", "''")) ~ ":'" -%}
    {{ md5_hex(namespace_literal ~ " || " ~ domain ~ " || ':' || " ~ source_system ~ " || ':' || "
        ~ source_trade_id ~ " || ':event:' || " ~ source_event_id) }}
{%- endmacro %}

{% macro duckdb__event_id(domain, source_system, source_trade_id, source_event_id) -%}
    {{ markets.default__event_id(domain, source_system, source_trade_id, source_event_id) }}
{%- endmacro %}

{% macro bigquery__event_id(domain, source_system, source_trade_id, source_event_id) -%}
    {%- set namespace_literal = "'" ~ (var('markets_namespace') | replace("'", "\\'")) ~ ":'" -%}
    {{ md5_hex("concat(" ~ namespace_literal ~ ", " ~ domain ~ ", ':', " ~ source_system ~ ", ':', "
        ~ source_trade_id ~ ", ':event:', " ~ source_event_id ~ ")") }}
{%- endmacro %}

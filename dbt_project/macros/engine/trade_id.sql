{#
    Returns a SQL expression: the deterministic trade id, lowercase hex MD5 of
    "{markets_namespace}:{domain}:{source_system}:{source_trade_id}". Arguments are
    SQL expressions. Must equal Python orchestrator.identity.trade_id (a test pins both).
#}
{% macro trade_id(domain, source_system, source_trade_id) -%}
    {{ return(adapter.dispatch('trade_id', 'markets')(domain, source_system, source_trade_id)) }}
{%- endmacro %}

{% macro default__trade_id(domain, source_system, source_trade_id) -%}
    {%- set namespace_literal = "'" ~ (var('markets_namespace') | replace("'", "''")) ~ ":'" -%}
    {{ md5_hex(namespace_literal ~ " || " ~ domain ~ " || ':' || " ~ source_system ~ " || ':' || " ~ source_trade_id) }}
{%- endmacro %}

{% macro duckdb__trade_id(domain, source_system, source_trade_id) -%}
    {{ markets.default__trade_id(domain, source_system, source_trade_id) }}
{%- endmacro %}

{% macro bigquery__trade_id(domain, source_system, source_trade_id) -%}
    {%- set namespace_literal = "'" ~ (var('markets_namespace') | replace("'", "\\'")) ~ ":'" -%}
    {{ md5_hex("concat(" ~ namespace_literal ~ ", " ~ domain ~ ", ':', " ~ source_system ~ ", ':', " ~ source_trade_id ~ ")") }}
{%- endmacro %}

{#
    Returns a SQL boolean expression: true when the string expression contains a
    match of the regular expression `pattern` (anchor it with ^...$ for a full match).
#}
{% macro regex_matches(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'markets')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expr, pattern) -%}
    regexp_matches({{ expr }}, '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{% macro duckdb__regex_matches(expr, pattern) -%}
    {{ markets.default__regex_matches(expr, pattern) }}
{%- endmacro %}

{% macro bigquery__regex_matches(expr, pattern) -%}
    regexp_contains({{ expr }}, r'''{{ pattern }}''')
{%- endmacro %}

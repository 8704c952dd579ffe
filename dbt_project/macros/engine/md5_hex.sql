{#
    Returns a SQL expression: the lowercase hex MD5 of a string expression, the
    same value as Python's hashlib.md5(s.encode()).hexdigest().
#}
{% macro md5_hex(expr) -%}
    {{ return(adapter.dispatch('md5_hex', 'markets')(expr)) }}
{%- endmacro %}

{% macro default__md5_hex(expr) -%}
    md5({{ expr }})
{%- endmacro %}

{% macro duckdb__md5_hex(expr) -%}
    md5({{ expr }})
{%- endmacro %}

{% macro bigquery__md5_hex(expr) -%}
    to_hex(md5({{ expr }}))
{%- endmacro %}

{#
    Returns a SQL expression: the hex MD5 of the listed column expressions, each
    cast to text with nulls spelled out, so any change to any of them changes it.
#}
{% macro row_hash(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '<null>')") -%}
    {%- endfor -%}
    {{ md5_hex(parts | join(" || '|' || ")) }}
{%- endmacro %}

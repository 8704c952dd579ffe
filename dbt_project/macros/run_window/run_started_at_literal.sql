{#
    Returns a SQL timestamp expression: when this dbt invocation started (UTC).
#}
{% macro run_started_at_literal() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


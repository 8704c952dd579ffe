{#
    Returns a SQL timestamp: the valid_from of the first version of an SCD2 key
    (1900-01-01), so trades executed before dbt first saw the key still join to it.
#}
{% macro scd2_open_start() -%}
    cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})
{%- endmacro %}

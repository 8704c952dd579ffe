{#
    Returns a SQL timestamp: the valid_to of the current version of an SCD2 key
    (9999-12-31 23:59:59), so validity windows can be compared without null checks.
#}
{% macro scd2_open_end() -%}
    cast('9999-12-31 23:59:59' as {{ dbt.type_timestamp() }})
{%- endmacro %}

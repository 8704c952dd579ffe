{#
    Returns a SELECT keeping one row per key from `relation` (a relation or CTE
    name): the first row by `order_by` (a list of "column [asc|desc]").
    `partition_by` is a column name or a list of them.
#}
{% macro latest_row_per_key(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('latest_row_per_key', 'markets')(relation, partition_by, order_by)) }}
{%- endmacro %}

{% macro default__latest_row_per_key(relation, partition_by, order_by) -%}
    {%- set keys = [partition_by] if partition_by is string else partition_by -%}
    select *
    from {{ relation }}
    qualify row_number() over (
        partition by {{ keys | join(', ') }}
        order by {{ order_by | join(', ') }}
    ) = 1
{%- endmacro %}

{% macro duckdb__latest_row_per_key(relation, partition_by, order_by) -%}
    {{ markets.default__latest_row_per_key(relation, partition_by, order_by) }}
{%- endmacro %}

{% macro bigquery__latest_row_per_key(relation, partition_by, order_by) -%}
    {%- set keys = [partition_by] if partition_by is string else partition_by -%}
    {# BigQuery accepts QUALIFY only next to a WHERE, GROUP BY or HAVING clause #}
    select *
    from {{ relation }}
    where true
    qualify row_number() over (
        partition by {{ keys | join(', ') }}
        order by {{ order_by | join(', ') }}
    ) = 1
{%- endmacro %}

{#
    The body of an insert-only record (an incremental model with full_refresh=false): the rows of `relation`
    (a CTE) whose `key_columns` are not recorded yet, stamped with the build that records them
    (_dbt_invocation_id, _recorded_at). A row, once recorded, is never rewritten, so `_recorded_at` says which
    build first saw it.
#}
{% macro record_once(relation, key_columns) -%}
    select
        {{ relation }}.*,
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as _dbt_invocation_id,
        {{ run_started_at_literal() }} as _recorded_at
    from {{ relation }}
    {%- if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as recorded
        where
            {%- for column in key_columns %}
            {% if not loop.first %}and {% endif %}recorded.{{ column }} = {{ relation }}.{{ column }}
            {%- endfor %}
    )
    {%- endif %}
{%- endmacro %}

{#
    Returns the MERGE statement of the `no_phantom_merge` incremental strategy:
    rows are matched on unique_key; a matched row is updated only when its
    `_row_hash` differs (so reprocessing unchanged rows writes nothing), and new
    keys are inserted. Rows missing from the new batch are left alone.
    arg_dict holds target_relation, temp_relation (a relation or a "(select ...)"
    string), unique_key, dest_columns and incremental_predicates.
#}
{% macro get_incremental_no_phantom_merge_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_no_phantom_merge_sql', 'markets')(arg_dict)) }}
{%- endmacro %}

{% macro default__get_incremental_no_phantom_merge_sql(arg_dict) -%}
    {%- set hash_column = '_row_hash' -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error("no_phantom_merge needs a unique_key (model " ~ this ~ ")") }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set column_names = arg_dict['dest_columns'] | map(attribute='name') | list -%}
    {%- if hash_column not in (column_names | map('lower') | list) -%}
        {{ exceptions.raise_compiler_error("no_phantom_merge needs a " ~ hash_column ~ " column in " ~ this) }}
    {%- endif -%}
    {%- set key_names = keys | map('lower') | list -%}
    merge into {{ arg_dict['target_relation'] }} as dbt_internal_dest
    using {{ arg_dict['temp_relation'] }} as dbt_internal_source
    on
        {%- for key in keys %}
        dbt_internal_dest.{{ adapter.quote(key) }} = dbt_internal_source.{{ adapter.quote(key) }}
        {%- if not loop.last %} and{% endif %}
        {%- endfor %}
        {%- for predicate in arg_dict.get('incremental_predicates') or [] %}
        and {{ predicate }}
        {%- endfor %}
    when matched
        and dbt_internal_dest.{{ adapter.quote(hash_column) }} is distinct from dbt_internal_source.{{ adapter.quote(hash_column) }}
        then update set
        {%- for column in column_names if column | lower not in key_names %}
            {{ adapter.quote(column) }} = dbt_internal_source.{{ adapter.quote(column) }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    when not matched then insert (
        {%- for column in column_names %}
        {{ adapter.quote(column) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    ) values (
        {%- for column in column_names %}
        dbt_internal_source.{{ adapter.quote(column) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{% macro duckdb__get_incremental_no_phantom_merge_sql(arg_dict) -%}
    {{ markets.default__get_incremental_no_phantom_merge_sql(arg_dict) }}
{%- endmacro %}

{% macro bigquery__get_incremental_no_phantom_merge_sql(arg_dict) -%}
    {# Same MERGE: BigQuery supports IS DISTINCT FROM and column lists in INSERT. #}
    {{ markets.default__get_incremental_no_phantom_merge_sql(arg_dict) }}
{%- endmacro %}

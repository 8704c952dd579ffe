{#
    Returns the build SQL of an incremental BigQuery model. Overrides dbt-bigquery's
    macro of the same name, whose materialization knows only merge, insert_overwrite
    and microbatch: `no_phantom_merge` goes to our strategy, `append` inserts the
    new rows (as on DuckDB; a MERGE would do the same, but the BigQuery emulator
    merges only from a table), every other strategy goes to dbt-bigquery's own
    macro unchanged.
#}
{% macro bq_generate_incremental_build_sql(
    strategy, tmp_relation, target_relation, sql, unique_key, partition_by, partitions, dest_columns, tmp_relation_exists, copy_partitions, incremental_predicates
) -%}
    {%- if strategy == 'no_phantom_merge' -%}
        {%- set source = tmp_relation if tmp_relation_exists else '(' ~ sql ~ ')' -%}
        {{ return(get_incremental_no_phantom_merge_sql({
            'target_relation': target_relation,
            'temp_relation': source,
            'unique_key': unique_key,
            'dest_columns': dest_columns,
            'incremental_predicates': incremental_predicates,
        })) }}
    {%- endif -%}
    {%- if strategy == 'append' -%}
        {%- set source = tmp_relation if tmp_relation_exists else '(' ~ sql ~ ')' -%}
        {%- set columns = dest_columns | map(attribute='name') | map('string') | list -%}
        {{ return(
            'insert into ' ~ target_relation ~ ' (' ~ get_quoted_csv(columns) ~ ')\n'
            ~ 'select ' ~ get_quoted_csv(columns) ~ ' from ' ~ source
        ) }}
    {%- endif -%}
    {{ return(dbt.bq_generate_incremental_build_sql(
        strategy, tmp_relation, target_relation, sql, unique_key, partition_by, partitions, dest_columns, tmp_relation_exists, copy_partitions, incremental_predicates
    )) }}
{%- endmacro %}

{#
    Returns the incremental strategy of a BigQuery model. Overrides dbt-bigquery's
    validation, which rejects custom strategies, to also accept `no_phantom_merge`
    and `append` (dbt-duckdb's insert-only strategy).
#}
{% macro dbt_bigquery_validate_get_incremental_strategy(config) -%}
    {%- set strategy = config.get('incremental_strategy') or 'merge' -%}
    {%- if strategy in ('no_phantom_merge', 'append') -%}
        {{ return(strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_bigquery_validate_get_incremental_strategy(config)) }}
{%- endmacro %}

{#-
    Rows each file has in its raw table, counted in the warehouse itself: one row per
    source and _file_id, over the business dates file_reconciliation checks. The raw
    tables come from the specs (macros/generated/raw_source_tables.sql).
-#}
{{ config(materialized='view') }}

with

{% for table in raw_source_tables() %}
raw_{{ table }} as (

    select * from {{ source('raw', table) }}

),

{% endfor %}
raw_rows_counted as (
{% for table in raw_source_tables() %}
    select
        cast('{{ table }}' as {{ dbt.type_string() }}) as source,
        _file_id as file_id,
        min(_business_date) as business_date,
        count(*) as rows_in_raw
    from raw_{{ table }}
    where _business_date >= {{ window_start_date(var('reconciliation_window_days')) }}
    group by _file_id
    {%- if not loop.last %}

    union all
{% endif %}
{% endfor %}
)

select * from raw_rows_counted

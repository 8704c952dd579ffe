{#-
    Rows each file has in its raw table, counted in the warehouse itself: one row per
    source and _file_id. The raw tables come from the specs
    (macros/generated/raw_source_tables.sql); on BigQuery they keep each row 30 days from
    the day it was loaded (partitioned by _ingested_at, the raw dataset's partition
    expiration), so this reads no more than that.
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
    group by _file_id
    {%- if not loop.last %}

    union all
{% endif %}
{% endfor %}
)

select * from raw_rows_counted

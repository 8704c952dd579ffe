{#
    Returns a SELECT of the raw regulatory events stream (the BigQuery subscription's
    columns), or, while the subscription has written nothing and the table does not
    exist yet, an empty SELECT with the same columns: a warehouse without the stream
    still builds the regulatory models (every event in the ledger then shows as not
    in the stream).
#}
{% macro regulatory_stream_or_empty(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none %}
    select
        cast(null as {{ dbt.type_string() }}) as subscription_name,
        cast(null as {{ dbt.type_string() }}) as message_id,
        cast(null as {{ dbt.type_timestamp() }}) as publish_time,
        cast(null as {{ dbt.type_string() }}) as data,
        cast(null as {{ dbt.type_string() }}) as attributes
    from (select 1 as no_stream_yet) as empty_stream
    where 1 = 0
    {%- else %}
    select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}

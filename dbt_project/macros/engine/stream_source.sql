{#
    Returns a SELECT of the messages in a raw stream table (a dbt source with the
    BigQuery-subscription columns): every one, or those written to the warehouse
    at or after `ingested_since` (a SQL timestamp expression; the tables are
    partitioned on `_ingested_at`, so BigQuery reads only those partitions).
    While the stream has landed nothing yet and the table does not exist, an empty
    SELECT with the same columns: a warehouse without the stream still builds the
    models that read it (streaming and regulatory lanes).
#}
{% macro stream_source(source_name, table_name, ingested_since=none) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none %}
    select
        cast(null as {{ dbt.type_string() }}) as subscription_name,
        cast(null as {{ dbt.type_string() }}) as message_id,
        cast(null as {{ dbt.type_timestamp() }}) as publish_time,
        cast(null as {{ dbt.type_string() }}) as data,
        cast(null as {{ dbt.type_string() }}) as attributes,
        cast(null as {{ dbt.type_timestamp() }}) as _ingested_at
    from (select 1 as no_stream_yet) as empty_stream
    where 1 = 0
    {%- else %}
    select * from {{ relation }}
    {%- if ingested_since is not none %}
    where _ingested_at >= {{ ingested_since }}
    {%- endif %}
    {%- endif -%}
{%- endmacro %}

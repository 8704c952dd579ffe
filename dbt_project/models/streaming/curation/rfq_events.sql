{{
    config(
        materialized='incremental',
        incremental_strategy='no_phantom_merge',
        unique_key='event_id',
        on_schema_change='fail'
    )
}}

{#-
    The hourly merge (`mdp stream build`): events first ingested since the start of
    the hour of the newest curated event, minus stream_lookback_hours, are merged on
    event_id; an event already curated changes only if its first copy's content
    differs. --full-refresh rebuilds the table from every staged event.
-#}
{%- set lookback_hours = var('stream_lookback_hours', 3) | int -%}

{%- set business_columns = [
    'rfq_id', 'source', 'schema_version', 'kafka_topic', 'kafka_partition', 'kafka_offset', 'sequence_number',
    'event_type', 'isin', 'side', 'quantity', 'price', 'currency', 'client_lei', 'dealer_id', 'platform_mic',
    'event_at', 'kafka_produced_at', 'published_at', 'ingested_at'
] -%}

with

stg_rfq__events as (

    select * from {{ ref('stg_rfq__events') }}

),

events_to_merge as (

    select *
    from stg_rfq__events
    {%- if is_incremental() %}
    where ingested_at >= (
        select
            coalesce(
                {{ add_minutes(dbt.date_trunc('hour', 'max(ingested_at)'), -60 * lookback_hours) }},
                cast('1970-01-01 00:00:00' as {{ dbt.type_timestamp() }})
            )
        from {{ this }}
    )
    {%- endif %}

),

events_hashed as (

    select
        *,
        {{ row_hash(business_columns) }} as _row_hash,
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as _dbt_invocation_id,
        {{ run_started_at_literal() }} as _curated_at
    from events_to_merge

)

select * from events_hashed

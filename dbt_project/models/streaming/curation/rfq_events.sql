{%- set lookback_hours = var('stream_lookback_hours', 3) | int -%}
{%- set window_hours = var('stream_staging_window_hours') | int -%}
{%- set horizon_hours = var('stream_duplicate_horizon_hours') | int -%}

{{
    config(
        materialized='incremental',
        incremental_strategy='no_phantom_merge',
        unique_key='event_id',
        on_schema_change='fail',
        partition_by=(
            {'field': 'ingested_at', 'data_type': 'timestamp', 'granularity': 'day'}
            if target.type == 'bigquery' else none
        ),
        cluster_by=(['event_id'] if target.type == 'bigquery' else none),
        incremental_predicates=(
            ['dbt_internal_dest.ingested_at >= ' ~ stream_reach_start()] if stream_reach_start() else []
        )
    )
}}

{#-
    The hourly merge (`mdp stream build`): events first ingested since the start of
    the hour of the newest curated event, minus stream_lookback_hours, are merged on
    event_id; an event already curated changes only if its first copy's content
    differs. A copy later than the curated one never replaces it, even when the
    first copy has left the staging window (stream_staging_window_hours); copies
    are looked for stream_duplicate_horizon_hours back, which bounds what BigQuery
    reads of this table (partitioned by day of ingested_at). --full-refresh
    (`mdp stream build --full-refresh`) rebuilds the table from every raw message.
-#}
{%- set merge_start = stream_merge_start(source('raw_streams', 'rfq_stream'), lookback_hours, window_hours) -%}

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
    {%- if merge_start is not none %}
    where ingested_at >= cast('{{ merge_start }}' as {{ dbt.type_timestamp() }})
    {%- endif %}

),

-- A copy of an event curated earlier (its first copy older than the staging window) stays out.
events_not_curated_earlier as (

    select *
    from events_to_merge
    {%- if merge_start is not none %}
    where not exists (
        select 1
        from {{ this }} as curated
        where
            curated.event_id = events_to_merge.event_id
            and curated.ingested_at < events_to_merge.ingested_at
            and curated.ingested_at >= {{ add_minutes("cast('" ~ merge_start ~ "' as " ~ dbt.type_timestamp() ~ ")", -60 * horizon_hours) }}
    )
    {%- endif %}

),

events_hashed as (

    select
        *,
        {{ row_hash(business_columns) }} as _row_hash,
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as _dbt_invocation_id,
        {{ run_started_at_literal() }} as _curated_at
    from events_not_curated_earlier

)

select * from events_hashed

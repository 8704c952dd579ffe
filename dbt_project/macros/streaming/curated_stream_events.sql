{#
    Returns the SELECT of a curated stream model (`<stream>_events`): its staged events
    (`staging_model`, deduplicated by event_id) to merge this hour, but those its
    spec rejects (control.streaming_rejected_events), with their `columns` (in table
    order), the MD5 of their `business_columns` (_row_hash), the dbt invocation and
    the build time.

    The hourly merge (`mdp stream build`): events first ingested since the start of
    the hour of the newest curated event, minus stream_lookback_hours, are merged on
    event_id; an event already curated changes only if its first copy's content
    differs. A copy later than the curated one never replaces it, even when the
    first copy has left the staging window (stream_staging_window_hours); copies
    are looked for stream_duplicate_horizon_hours back, which bounds what BigQuery
    reads of the table (partitioned by day of ingested_at). --full-refresh
    (`mdp stream build --full-refresh`) rebuilds the table from every raw message
    of `raw_table` (a table of source raw_streams).
#}
{% macro curated_stream_events(staging_model, raw_table, columns, business_columns) -%}
{%- set lookback_hours = var('stream_lookback_hours', 3) | int -%}
{%- set window_hours = var('stream_staging_window_hours') | int -%}
{%- set horizon_hours = var('stream_duplicate_horizon_hours') | int -%}
{%- set merge_start = stream_merge_start(source('raw_streams', raw_table), lookback_hours, window_hours) -%}

with

staged_events as (

    select * from {{ ref(staging_model) }}

),

accepted_events as (

    select
        {{ columns | join(',\n        ') }}
    from staged_events
    where rejection_reason is null

),

events_to_merge as (

    select *
    from accepted_events
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

{%- endmacro %}

{# Generated from source_specs/streaming/rfq.yaml by streaming/dbt_codegen.py: do not edit; change the spec and regenerate. #}
{#-
    At-least-once delivery lands an event more than once (redelivered messages,
    republished after a bridge crash): keep its first copy by ingestion time.
    The view covers messages ingested in the stream_staging_window_hours before the
    build (0: every message raw keeps), so the hourly merge reads a few partitions of
    raw, not its 30 days. An event whose first copy is older than the window is
    deduplicated against curation.rfq_events by the merge.
-#}
{%- set window_hours = var('stream_staging_window_hours') | int -%}

with

rfq_messages as (

    {{ stream_source(
        'raw_streams',
        'rfq_stream',
        add_minutes(run_started_at_literal(), -60 * window_hours) if window_hours > 0 else none
    ) }}

),

rfq_messages_parsed as (

    select
        -- ids
        {{ json_text('data', 'event_id') }} as event_id,
        message_id,
        {{ json_text('data', 'rfq_id') }} as rfq_id,
        {{ json_text('data', 'isin') }} as isin,
        {{ json_text('data', 'client_lei') }} as client_lei,
        {{ json_text('data', 'dealer_id') }} as dealer_id,
        {{ json_text('data', 'platform_mic') }} as platform_mic,

        -- strings
        {{ json_text('attributes', 'source') }} as source,
        {{ json_text('attributes', 'schema_version') }} as schema_version,
        {{ json_text('attributes', 'kafka_topic') }} as kafka_topic,
        {{ json_text('data', 'event_type') }} as event_type,
        {{ json_text('data', 'side') }} as side,
        {{ json_text('data', 'currency') }} as currency,

        -- numerics
        cast({{ json_text('attributes', 'kafka_partition') }} as {{ dbt.type_bigint() }}) as kafka_partition,
        cast({{ json_text('attributes', 'kafka_offset') }} as {{ dbt.type_bigint() }}) as kafka_offset,
        cast({{ json_text('data', 'sequence') }} as {{ dbt.type_bigint() }}) as sequence_number,
        cast({{ json_text('data', 'quantity') }} as {{ type_decimal() }}) as quantity,
        cast({{ json_text('data', 'price') }} as {{ type_decimal() }}) as price,

        -- timestamps
        {{ iso_timestamp_utc(json_text('data', 'event_at')) }} as event_at,
        {{ timestamp_from_epoch_ms(json_text('attributes', 'kafka_timestamp')) }} as kafka_produced_at,
        publish_time as published_at,
        _ingested_at as ingested_at

    from rfq_messages

),

rfq_events_deduplicated as (

    {{ latest_row_per_key(
        'rfq_messages_parsed',
        'event_id',
        ['ingested_at asc', 'published_at asc', 'message_id asc']
    ) }}

)

select * from rfq_events_deduplicated

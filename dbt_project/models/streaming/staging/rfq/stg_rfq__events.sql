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
        {{ stream_value(json_text('data', 'quantity'), 'decimal') }} as quantity,
        {{ stream_value(json_text('data', 'price'), 'decimal') }} as price,

        -- timestamps
        {{ iso_timestamp_utc(json_text('data', 'event_at')) }} as event_at,
        {{ timestamp_from_epoch_ms(json_text('attributes', 'kafka_timestamp')) }} as kafka_produced_at,
        publish_time as published_at,
        _ingested_at as ingested_at,

        -- payload text the checks read
        {{ json_text('data', 'event_at') }} as _text_event_at,
        {{ json_text('data', 'quantity') }} as _text_quantity,
        {{ json_text('data', 'price') }} as _text_price,
        data

    from rfq_messages

),

-- The stream spec's rules (macro stream_rejection_reason): an event that breaks one is rejected, not curated.
rfq_messages_checked as (

    select
        *,
        {{ stream_rejection_reason([
            stream_unconverted_problem('_text_event_at', 'event_at', 'event_at', 'timestamp'),
            stream_missing_problem('rfq_id', 'rfq_id'),
            stream_not_allowed_problem('event_type', 'event_type', ['REQUEST', 'QUOTE', 'COUNTER', 'TRADE', 'REJECT', 'EXPIRE']),
            stream_not_allowed_problem('side', 'side', ['BUY', 'SELL']),
            stream_unconverted_problem('_text_quantity', 'quantity', 'quantity', 'decimal'),
            stream_unconverted_problem('_text_price', 'price', 'price', 'decimal')
        ]) }} as rejection_reason
    from rfq_messages_parsed

),

rfq_messages_triaged as (

    select
        event_id,
        message_id,
        rfq_id,
        isin,
        client_lei,
        dealer_id,
        platform_mic,
        source,
        schema_version,
        kafka_topic,
        event_type,
        side,
        currency,
        kafka_partition,
        kafka_offset,
        sequence_number,
        quantity,
        price,
        event_at,
        kafka_produced_at,
        published_at,
        ingested_at,
        rejection_reason,
        case when rejection_reason is not null then data end as rejected_payload
    from rfq_messages_checked

),

rfq_events_deduplicated as (

    {{ latest_row_per_key(
        'rfq_messages_triaged',
        'event_id',
        ['ingested_at asc', 'published_at asc', 'message_id asc']
    ) }}

)

select * from rfq_events_deduplicated

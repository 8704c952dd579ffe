{{ config(materialized='view') }}

with

events_stream as (

    {{ stream_source('regulatory_stream', 'regulatory_events_stream') }}

),

event_fields_extracted as (

    select
        -- ids
        message_id,
        {{ json_text('data', 'domain') }} as domain,
        {{ json_text('data', 'source_system') }} as source_system,
        {{ json_text('data', 'source_trade_id') }} as source_trade_id,
        {{ json_text('data', 'source_event_id') }} as source_event_id,

        -- strings
        {{ json_text('data', 'event_type') }} as event_type,

        -- timestamps
        {{ iso_timestamp_utc(json_text('data', 'event_at')) }} as event_at,
        publish_time as published_at

    from events_stream

),

event_ids_derived as (

    select
        {{ event_id('domain', 'source_system', 'source_trade_id', 'source_event_id') }} as event_id,
        {{ trade_id('domain', 'source_system', 'source_trade_id') }} as trade_id,
        *
    from event_fields_extracted

),

-- Redeliveries and republished copies share the event id; the first publication stands.
first_publication_per_event as (

    select
        *,
        row_number() over (partition by event_id order by published_at, message_id) as publication_number
    from event_ids_derived

),

reportable_events as (

    select
        event_id,
        trade_id,
        source_system,
        source_trade_id,
        source_event_id,
        event_type,
        event_at,
        published_at
    from first_publication_per_event
    where publication_number = 1

)

select * from reportable_events

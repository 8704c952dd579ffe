{# Generated from source_specs/streaming/rfq.yaml by streaming/dbt_codegen.py: do not edit; change the spec and regenerate. #}
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

{#- The hourly merge; see macro curated_stream_events. -#}
{{ curated_stream_events('stg_rfq__events', 'rfq_stream', [
    'event_id',
    'message_id',
    'rfq_id',
    'isin',
    'client_lei',
    'dealer_id',
    'platform_mic',
    'source',
    'schema_version',
    'kafka_topic',
    'event_type',
    'side',
    'currency',
    'kafka_partition',
    'kafka_offset',
    'sequence_number',
    'quantity',
    'price',
    'event_at',
    'kafka_produced_at',
    'published_at',
    'ingested_at',
], [
    'source',
    'schema_version',
    'kafka_topic',
    'kafka_partition',
    'kafka_offset',
    'sequence_number',
    'rfq_id',
    'event_type',
    'isin',
    'side',
    'quantity',
    'price',
    'currency',
    'client_lei',
    'dealer_id',
    'platform_mic',
    'event_at',
    'kafka_produced_at',
    'published_at',
    'ingested_at',
]) }}

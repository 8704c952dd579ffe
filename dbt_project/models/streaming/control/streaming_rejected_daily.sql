{{ config(materialized='view') }}

{#-
    Rejected stream events per stream and day of ingestion (UTC), from
    streaming_rejected_events: what the status report charts, a few rows however many
    events a faulty producer sends.
-#}

with

streaming_rejected_events as (

    select * from {{ ref('streaming_rejected_events') }}

),

rejected_per_day as (

    select
        source,
        cast(ingested_at as date) as ingested_date,
        count(*) as rejected_events,
        max(ingested_at) as last_ingested_at
    from streaming_rejected_events
    group by source, cast(ingested_at as date)

)

select * from rejected_per_day

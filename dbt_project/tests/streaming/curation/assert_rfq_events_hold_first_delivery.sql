-- Each curated rfq event is its first copy by ingestion time: the one staging keeps, or an earlier one that has
-- left the staging window (no exceptions).

with

rfq_events as (

    select * from {{ ref('rfq_events') }}

),

stg_rfq__events as (

    select * from {{ ref('stg_rfq__events') }}

)

select
    rfq_events.event_id,
    rfq_events.message_id as curated_message_id,
    stg_rfq__events.message_id as first_staged_message_id
from rfq_events
inner join stg_rfq__events
    on rfq_events.event_id = stg_rfq__events.event_id
where
    rfq_events.message_id != stg_rfq__events.message_id
    and rfq_events.ingested_at >= stg_rfq__events.ingested_at

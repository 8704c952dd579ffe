-- No curated event carries a sequence number inside a reported gap of its partition (no exceptions).

with

streaming_sequence_gaps as (

    select * from {{ ref('streaming_sequence_gaps') }}

),

rfq_events as (

    select * from {{ ref('rfq_events') }}

)

select
    streaming_sequence_gaps.source,
    streaming_sequence_gaps.kafka_partition,
    streaming_sequence_gaps.first_missing_sequence,
    streaming_sequence_gaps.last_missing_sequence,
    rfq_events.event_id
from streaming_sequence_gaps
inner join rfq_events
    on streaming_sequence_gaps.source = rfq_events.source
    and streaming_sequence_gaps.kafka_topic = rfq_events.kafka_topic
    and streaming_sequence_gaps.kafka_partition = rfq_events.kafka_partition
    and rfq_events.sequence_number between streaming_sequence_gaps.first_missing_sequence
    and streaming_sequence_gaps.last_missing_sequence

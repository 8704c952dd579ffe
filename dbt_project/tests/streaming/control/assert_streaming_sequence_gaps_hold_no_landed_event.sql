-- No curated event carries a sequence number inside a reported gap of its partition (no exceptions).

with

streaming_sequence_gaps as (

    select * from {{ ref('streaming_sequence_gaps') }}

),

int_streams__events as (

    select * from {{ ref('int_streams__events') }}

)

select
    streaming_sequence_gaps.source,
    streaming_sequence_gaps.kafka_partition,
    streaming_sequence_gaps.first_missing_sequence,
    streaming_sequence_gaps.last_missing_sequence,
    int_streams__events.event_id
from streaming_sequence_gaps
inner join int_streams__events
    on streaming_sequence_gaps.source = int_streams__events.source
    and streaming_sequence_gaps.kafka_topic = int_streams__events.kafka_topic
    and streaming_sequence_gaps.kafka_partition = int_streams__events.kafka_partition
    and int_streams__events.sequence_number between streaming_sequence_gaps.first_missing_sequence
    and streaming_sequence_gaps.last_missing_sequence

{#
    Generic test: returns each curated stream event of `model` that is not its first
    copy by ingestion time, that is, a staged copy of `staging_model` (which keeps each
    event's first copy in its window) ingested no later than the curated one yet
    different from it. An earlier copy that has left the staging window is fine.
#}
{% test holds_first_delivery(model, staging_model) %}

with

curated as (

    select * from {{ model }}

),

staged as (

    select * from {{ ref(staging_model) }}

)

select
    curated.event_id,
    curated.message_id as curated_message_id,
    staged.message_id as first_staged_message_id
from curated
inner join staged
    on curated.event_id = staged.event_id
where
    curated.message_id != staged.message_id
    and curated.ingested_at >= staged.ingested_at

{% endtest %}

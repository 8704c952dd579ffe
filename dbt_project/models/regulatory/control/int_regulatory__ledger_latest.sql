{{ config(materialized='view') }}

with

submissions_mirror as (

    select * from {{ source('regulatory_ledger_mirror', 'regulatory_submissions') }}

),

-- The mirror appends every ledger change; the latest one is the entry's current state.
changes_ranked as (

    select
        *,
        row_number() over (partition by event_id order by updated_at desc, mirrored_at desc) as change_rank
    from submissions_mirror

),

ledger_latest as (

    select
        event_id,
        state as ledger_state,
        event_type as ledger_event_type,
        event_at as ledger_event_at,
        received_at,
        submitted_at,
        dead_lettered_at,
        regulator_reference,
        latency_ms,
        attempts,
        replays,
        reason
    from changes_ranked
    where change_rank = 1

)

select * from ledger_latest

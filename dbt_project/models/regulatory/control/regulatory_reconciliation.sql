{#-
    The SLA is the dbt var regulatory_sla_minutes (default 15, FINRA TRACE's deadline);
    the clock starts at event_at. Events are judged against the time dbt runs.
-#}
{{ config(materialized='table') }}

with

reportable_events as (

    select * from {{ ref('int_regulatory__reportable_events') }}

),

ledger_latest as (

    select * from {{ ref('int_regulatory__ledger_latest') }}

),

-- Full join: an event the stream lost but the reporter handled must still be reconciled.
events_joined_to_ledger as (

    select
        coalesce(reportable_events.event_id, ledger_latest.event_id) as event_id,
        reportable_events.trade_id,
        reportable_events.source_system,
        reportable_events.source_trade_id,
        coalesce(reportable_events.event_type, ledger_latest.ledger_event_type) as event_type,
        coalesce(reportable_events.event_at, ledger_latest.ledger_event_at) as event_at,
        reportable_events.published_at,
        reportable_events.event_id is not null as is_in_stream,
        ledger_latest.ledger_state,
        ledger_latest.received_at,
        ledger_latest.submitted_at,
        ledger_latest.dead_lettered_at,
        ledger_latest.regulator_reference,
        ledger_latest.attempts,
        ledger_latest.replays,
        ledger_latest.reason
    from reportable_events
    full outer join ledger_latest
        on reportable_events.event_id = ledger_latest.event_id

),

deadlines_derived as (

    select
        *,
        {{ add_minutes('event_at', var('regulatory_sla_minutes', 15)) }} as deadline_at,
        {{ run_started_at_literal() }} as reconciled_at
    from events_joined_to_ledger

),

statuses_assigned as (

    select
        -- ids
        event_id,
        trade_id,
        regulator_reference,

        -- strings
        source_system,
        source_trade_id,
        event_type,
        ledger_state,
        case
            when ledger_state = 'SUBMITTED' and submitted_at <= deadline_at then 'SUBMITTED'
            when ledger_state = 'SUBMITTED' then 'LATE'
            when ledger_state = 'DEAD_LETTERED' then 'DEAD_LETTERED'
            when reconciled_at > deadline_at then 'MISSED'
            else 'PENDING'
        end as reconciliation_status,
        reason,

        -- numerics
        attempts,
        replays,
        case
            when submitted_at is not null then {{ minutes_between('event_at', 'submitted_at') }}
        end as minutes_to_submit,

        -- booleans
        is_in_stream,

        -- timestamps
        event_at,
        published_at,
        deadline_at,
        received_at,
        submitted_at,
        dead_lettered_at,
        reconciled_at

    from deadlines_derived

),

breaches_flagged as (

    select
        *,
        reconciliation_status in ('LATE', 'MISSED', 'DEAD_LETTERED') as is_breach
    from statuses_assigned

)

select * from breaches_flagged

{#-
    Every loaded file's rows, accounted for in the warehouse itself: one row per file
    loaded in the last reconciliation_window_days (by when it was processed, so a late
    file for an old business date is checked too), and per file with raw rows but no
    loaded record, from the rows the validator counted (control.ingested_files) to the
    rows its raw table holds, the quarantine, the curated trades and today's extract.
    Anything but BALANCED means rows were lost or loaded twice between validation and the
    warehouse, or a trade's latest version never reached curation;
    orchestrator/batch/findings.py raises one alert per such file.
-#}

with

ingested_files as (

    select * from {{ source('control', 'ingested_files') }}

),

quarantined_rows as (

    select * from {{ source('control', 'quarantined_rows') }}

),

expected_sources as (

    select * from {{ ref('expected_sources') }}

),

raw_file_rows as (

    select * from {{ ref('raw_file_rows') }}

),

trades_unioned as (

    select * from {{ ref('trades_unioned') }}

),

trades_enriched as (

    select * from {{ ref('trades_enriched') }}

),

markets_extract as (

    select * from {{ ref('markets_extract') }}

),

-- A file's content is loaded once: a later arrival of the same bytes is recorded as a duplicate.
loaded_files as (

    select
        file_id,
        source,
        max(landing_key) as landing_key,
        max(business_date) as business_date,
        max(processed_at) as processed_at,
        max(rows_total) as rows_total,
        max(rows_loaded) as rows_loaded,
        max(rows_quarantined) as rows_quarantined
    from ingested_files
    where outcome = 'loaded'
    group by file_id, source

),

quarantine_per_file as (

    select
        file_id,
        count(*) as rows_in_quarantine
    from quarantined_rows
    group by file_id

),

current_trades_per_file as (

    select
        _file_id as file_id,
        count(*) as rows_current
    from trades_enriched
    group by _file_id

),

-- Staging keeps each trade's latest version per source; curation must hold it (or a later one).
-- The same key as trade_id (domain, source system, source trade id), without hashing every row.
uncurated_trades_per_file as (

    select
        trades_unioned._file_id as file_id,
        count(*) as rows_not_curated
    from trades_unioned
    left join trades_enriched
        on trades_unioned.domain = trades_enriched.domain
        and trades_unioned.source_system = trades_enriched.source_system
        and trades_unioned.source_trade_id = trades_enriched.source_trade_id
    where
        trades_enriched.source_trade_id is null
        or trades_enriched.trade_version < trades_unioned.trade_version
    group by trades_unioned._file_id

),

extract_trades_per_file as (

    select
        _file_id as file_id,
        count(*) as rows_in_extract
    from markets_extract
    group by _file_id

),

-- Both ways: raw rows of a file with no loaded record are as much a break as a record without rows.
files_matched_to_raw as (

    select
        coalesce(loaded_files.file_id, raw_file_rows.file_id) as file_id,
        coalesce(loaded_files.source, raw_file_rows.source) as source,
        coalesce(loaded_files.business_date, raw_file_rows.business_date) as business_date,
        loaded_files.landing_key,
        loaded_files.processed_at,
        loaded_files.file_id is not null as is_recorded,
        loaded_files.rows_total,
        loaded_files.rows_quarantined,
        loaded_files.rows_loaded,
        coalesce(raw_file_rows.rows_in_raw, 0) as rows_in_raw
    from loaded_files
    full outer join raw_file_rows
        on loaded_files.file_id = raw_file_rows.file_id
        and loaded_files.source = raw_file_rows.source

),

-- Files loaded in the window, whatever their business date, while raw still keeps their rows:
-- raw_retention_days from the day they were loaded (partition expiration by load day), a day
-- short, and counted to the day this build runs, not to as_of_date: a rerun for an earlier
-- date must not expect rows that have expired since.
files_in_window as (

    select *
    from files_matched_to_raw
    where not is_recorded
        or (
            cast(processed_at as date) >= {{ window_start_date(var('reconciliation_window_days')) }}
            and {{ date_add_days('cast(processed_at as date)', (var('raw_retention_days') | int) - 1) }}
                > cast({{ run_started_at_literal() }} as date)
        )

),

-- Trade files only: each raw row is the current version of its trade, superseded by a later one,
-- or the latest version of a trade that curation does not hold.
files_counted as (

    select
        files_in_window.*,
        coalesce(quarantine_per_file.rows_in_quarantine, 0) as rows_in_quarantine,
        case
            when expected_sources.kind = 'trade' then coalesce(current_trades_per_file.rows_current, 0)
        end as rows_current,
        case
            when expected_sources.kind = 'trade' then coalesce(uncurated_trades_per_file.rows_not_curated, 0)
        end as rows_not_curated,
        case
            when expected_sources.kind = 'trade' then coalesce(extract_trades_per_file.rows_in_extract, 0)
        end as rows_in_extract
    from files_in_window
    left join expected_sources
        on files_in_window.source = expected_sources.source
    left join quarantine_per_file
        on files_in_window.file_id = quarantine_per_file.file_id
    left join current_trades_per_file
        on files_in_window.file_id = current_trades_per_file.file_id
    left join uncurated_trades_per_file
        on files_in_window.file_id = uncurated_trades_per_file.file_id
    left join extract_trades_per_file
        on files_in_window.file_id = extract_trades_per_file.file_id

),

files_reconciled as (

    select
        source,
        business_date,
        file_id,
        landing_key,
        processed_at,
        case
            when not is_recorded then 'NOT_RECORDED'
            when rows_in_raw < rows_loaded then 'ROWS_MISSING'
            when rows_in_raw > rows_loaded then 'ROWS_EXTRA'
            when rows_in_quarantine <> rows_quarantined
                or rows_total <> rows_loaded + rows_quarantined
                then 'QUARANTINE_MISMATCH'
            when rows_not_curated > 0 then 'NOT_CURATED'
            else 'BALANCED'
        end as reconciliation_status,
        rows_total,
        rows_quarantined,
        rows_in_quarantine,
        rows_loaded,
        rows_in_raw,
        rows_current,
        rows_in_raw - rows_current - rows_not_curated as rows_superseded,
        rows_not_curated,
        rows_in_extract
    from files_counted

)

select * from files_reconciled

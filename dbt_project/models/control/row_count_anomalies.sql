{#-
    z-scores compare a day with the complete days (at least min_files_per_day files)
    among the previous 20 business dates on which the source delivered: a partial day
    would pull the trailing mean down. With fewer than 5 of them the history is too
    short to judge.
-#}
{%- set history_days = 20 -%}
{%- set min_history_days = 5 -%}
{%- set z_score_threshold = 3 -%}

with

expected_sources as (

    select * from {{ ref('expected_sources') }}

),

ingested_files as (

    select * from {{ source('control', 'ingested_files') }}

),

rows_per_business_date as (

    select
        source,
        business_date,
        count(distinct file_id) as files_loaded,
        sum(rows_loaded) as rows_loaded
    from ingested_files
    where outcome = 'loaded'
    group by source, business_date

),

completeness_flagged as (

    select
        rows_per_business_date.*,
        rows_per_business_date.files_loaded >= coalesce(expected_sources.min_files_per_day, 1) as is_complete_day,
        case
            when rows_per_business_date.files_loaded >= coalesce(expected_sources.min_files_per_day, 1)
                then rows_per_business_date.rows_loaded
        end as complete_day_rows
    from rows_per_business_date
    left join expected_sources
        on rows_per_business_date.source = expected_sources.source

),

-- Aggregates skip nulls: only complete days enter the history.
trailing_statistics_added as (

    select
        *,
        count(complete_day_rows) over trailing_window as history_days,
        avg(complete_day_rows) over trailing_window as trailing_mean_rows,
        stddev_samp(complete_day_rows) over trailing_window as trailing_stddev_rows
    from completeness_flagged
    window trailing_window as (
        partition by source
        order by business_date
        rows between {{ history_days }} preceding and 1 preceding
    )

),

z_scores_computed as (

    select
        trailing_statistics_added.*,
        case
            when history_days >= {{ min_history_days }} and trailing_stddev_rows > 0
                then (rows_loaded - trailing_mean_rows) / trailing_stddev_rows
        end as rows_z_score
    from trailing_statistics_added

),

-- A flat history (stddev 0) has no z-score, but any departure from it is anomalous.
anomalies_flagged as (

    select
        z_scores_computed.source,
        z_scores_computed.business_date,
        z_scores_computed.files_loaded,
        z_scores_computed.is_complete_day,
        z_scores_computed.rows_loaded,
        z_scores_computed.history_days,
        z_scores_computed.trailing_mean_rows,
        z_scores_computed.trailing_stddev_rows,
        z_scores_computed.rows_z_score,
        expected_sources.typical_rows_min,
        expected_sources.typical_rows_max,
        coalesce(
            abs(z_scores_computed.rows_z_score) > {{ z_score_threshold }}
            or (
                z_scores_computed.history_days >= {{ min_history_days }}
                and z_scores_computed.trailing_stddev_rows = 0
                and z_scores_computed.rows_loaded != z_scores_computed.trailing_mean_rows
            ),
            false
        ) as is_z_score_anomaly,
        coalesce(
            z_scores_computed.rows_loaded < expected_sources.typical_rows_min
            or z_scores_computed.rows_loaded > expected_sources.typical_rows_max,
            false
        ) as is_outside_typical_rows
    from z_scores_computed
    left join expected_sources
        on z_scores_computed.source = expected_sources.source

),

anomalies_summarised as (

    select
        *,
        is_z_score_anomaly or is_outside_typical_rows as is_anomaly
    from anomalies_flagged

)

select * from anomalies_summarised

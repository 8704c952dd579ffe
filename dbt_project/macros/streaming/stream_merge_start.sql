{#
    Returns where the hourly merge of a curated stream model starts, as a naive UTC
    datetime: the start of the hour of its newest curated event minus
    `lookback_hours`; none when the model is built from scratch or holds nothing.
    Fails the build, rather than skip events, when that start is older than what
    the staging view covers (`window_hours` before the run; 0 covers everything):
    the builds stopped for longer than the window allows, and the error says how
    to catch up. Raw keeps the messages 30 days, so nothing is lost meanwhile.
    Likewise a build from scratch fails while `raw_relation` (the stream's raw
    table) holds messages older than the window.
#}
{% macro stream_merge_start(raw_relation, lookback_hours, window_hours) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set hour = modules.datetime.timedelta(hours=1) -%}
    {%- set covered_from = run_started_at.replace(tzinfo=none) - window_hours * hour -%}
    {%- if not is_incremental() -%}
        {%- if window_hours > 0 and load_relation(raw_relation) is not none -%}
            {%- set oldest = run_query('select min(_ingested_at) from ' ~ raw_relation).columns[0].values()[0] -%}
            {%- if oldest is not none and oldest.replace(tzinfo=none) < covered_from -%}
                {{ exceptions.raise_compiler_error(
                    "build with `mdp stream build --full-refresh`: " ~ this ~ " is built from scratch, but "
                    ~ raw_relation ~ " holds messages ingested since " ~ oldest ~ " UTC, before the "
                    ~ window_hours ~ " hours staging covers."
                ) }}
            {%- endif -%}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set newest = run_query('select max(ingested_at) from ' ~ this).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set start = newest.replace(minute=0, second=0, microsecond=0, tzinfo=none) - lookback_hours * hour -%}
    {%- if window_hours > 0 and start < covered_from -%}
        {%- set needed = ((run_started_at.replace(tzinfo=none) - start).total_seconds() / 3600) | round(0, 'ceil') | int + 1 -%}
        {{ exceptions.raise_compiler_error(
            "catch up with `mdp stream build --window-hours " ~ needed ~ "`: the streaming build has not run "
            ~ "for longer than staging covers. " ~ this ~ " must merge events ingested since " ~ start
            ~ " UTC; staging covers the " ~ window_hours ~ " hours before this build (since "
            ~ covered_from.replace(microsecond=0) ~ " UTC). Raw keeps the messages 30 days."
        ) }}
    {%- endif -%}
    {{ return(start) }}
{%- endmacro %}

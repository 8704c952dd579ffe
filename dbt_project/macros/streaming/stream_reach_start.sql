{#
    Returns a SQL timestamp expression: the oldest ingestion time an hourly build of a
    curated stream can change, stream_staging_window_hours plus
    stream_duplicate_horizon_hours before now; none when staging covers all of raw
    (stream_staging_window_hours 0, a full refresh), which can change anything.
#}
{% macro stream_reach_start() -%}
    {%- set window_hours = var('stream_staging_window_hours') | int -%}
    {%- if window_hours == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set horizon_hours = var('stream_duplicate_horizon_hours') | int -%}
    {{ return(add_minutes(utc_now(), -60 * (window_hours + horizon_hours))) }}
{%- endmacro %}

{#
    Returns what a generic test reads, as dbt does (the relation, or a subquery
    filtered by the test's `where` config), with one addition: `__stream_reach_start__`
    in `where` stands for stream_reach_start(), so the tests of a curated stream read
    the partitions its hourly build can change rather than the whole table; all of it
    after a full refresh or with stream_test_scope 'all' (`mdp stream check`).
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- if '__stream_reach_start__' in where -%}
        {%- set start = stream_reach_start() -%}
        {%- if start is none or var('stream_test_scope') == 'all' -%}
            {%- set where = 'true' -%}
        {%- else -%}
            {%- set where = where | replace('__stream_reach_start__', start) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- endif -%}
    {{ return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) }}
{%- endmacro %}

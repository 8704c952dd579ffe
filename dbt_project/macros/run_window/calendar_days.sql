{#
    Returns a SELECT of one row per calendar day in the window of `n_days` days
    ending on as_of_date: business_date (date) and is_weekend (Saturday or Sunday).
    Built at compile time from the vars, so it is the same SQL on every engine.
#}
{% macro calendar_days(n_days) -%}
    {%- set days = n_days | int -%}
    {%- set end = modules.datetime.datetime.strptime(as_of_date(), '%Y-%m-%d').date() -%}
    {%- for offset in range(days - 1, -1, -1) -%}
        {%- set day = end - modules.datetime.timedelta(days=offset) %}
    select
        cast('{{ day.isoformat() }}' as date) as business_date,
        {{ 'true' if day.weekday() >= 5 else 'false' }} as is_weekend
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#
    Returns the business date the run is for, as a 'YYYY-MM-DD' string: var
    as_of_date, or the UTC date the run started when the var is null or empty.
#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d') -%}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error("var as_of_date=" ~ value ~ " is not a 'YYYY-MM-DD' date; pass --vars '{\"as_of_date\": \"2026-11-20\"}'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

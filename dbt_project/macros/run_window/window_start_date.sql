{#
    Returns a SQL date expression: the first day of the window of `n_days` days
    that ends on as_of_date, inclusive (n_days=7, as_of 2026-11-20 -> 2026-11-14).
#}
{% macro window_start_date(n_days) -%}
    {%- set days = n_days | int -%}
    {%- if days < 1 -%}
        {{ exceptions.raise_compiler_error("a window needs at least one day, got n_days=" ~ n_days) }}
    {%- endif -%}
    {{ date_add_days("cast('" ~ as_of_date() ~ "' as date)", 1 - days) }}
{%- endmacro %}

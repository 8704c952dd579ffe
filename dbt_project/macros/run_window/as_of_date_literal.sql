{#
    Returns a SQL date expression for as_of_date: cast('YYYY-MM-DD' as date).
#}
{% macro as_of_date_literal() -%}
    cast('{{ as_of_date() }}' as date)
{%- endmacro %}

{#
    Returns a SQL aggregate expression: the `fraction` percentile (0.5 = median) of
    the numeric expression `expr` over the group; exact on DuckDB, approximate to
    1% on BigQuery (approx_quantiles with 100 buckets).
#}
{% macro percentile(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'markets')(expr, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expr, fraction) -%}
    quantile_cont({{ expr }}, {{ fraction }})
{%- endmacro %}

{% macro duckdb__percentile(expr, fraction) -%}
    {{ markets.default__percentile(expr, fraction) }}
{%- endmacro %}

{% macro bigquery__percentile(expr, fraction) -%}
    approx_quantiles({{ expr }}, 100)[offset({{ (fraction * 100) | round | int }})]
{%- endmacro %}

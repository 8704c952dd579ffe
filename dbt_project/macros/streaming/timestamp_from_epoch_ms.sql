{#
    Returns a SQL timestamp expression (UTC): the integer expression `expr`, in
    milliseconds since the Unix epoch.
#}
{% macro timestamp_from_epoch_ms(expr) -%}
    {{ return(adapter.dispatch('timestamp_from_epoch_ms', 'markets')(expr)) }}
{%- endmacro %}

{% macro default__timestamp_from_epoch_ms(expr) -%}
    epoch_ms(cast({{ expr }} as bigint))
{%- endmacro %}

{% macro duckdb__timestamp_from_epoch_ms(expr) -%}
    {{ markets.default__timestamp_from_epoch_ms(expr) }}
{%- endmacro %}

{% macro bigquery__timestamp_from_epoch_ms(expr) -%}
    timestamp_millis(cast({{ expr }} as int64))
{%- endmacro %}

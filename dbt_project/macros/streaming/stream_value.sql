{#
    Returns a SQL expression: the JSON scalar text `expr` as a stream column of
    `type` (string, integer, decimal, boolean or timestamp, as in the stream
    specs); null when absent or when it does not convert. The same on every
    engine, whatever its casts accept: integers are digits with an optional minus
    sign (1.5 is not one), decimals JSON numbers (1,000 is not one), booleans JSON
    true or false, timestamps ISO 8601 with 'Z' or an offset.
#}
{% macro stream_value(expr, type) -%}
    {%- if type == 'string' -%}
        {{ expr }}
    {%- elif type == 'integer' -%}
        case when {{ regex_matches(expr, '^-?[0-9]+$') }} then {{ cast_or_null(expr, dbt.type_bigint()) }} end
    {%- elif type == 'decimal' -%}
        case
            when {{ regex_matches(expr, '^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$') }}
                then {{ cast_or_null(expr, type_decimal()) }}
        end
    {%- elif type == 'boolean' -%}
        case {{ expr }} when 'true' then true when 'false' then false end
    {%- elif type == 'timestamp' -%}
        {{ iso_timestamp_utc(expr) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("stream_value: unknown stream column type '" ~ type ~ "'") }}
    {%- endif -%}
{%- endmacro %}

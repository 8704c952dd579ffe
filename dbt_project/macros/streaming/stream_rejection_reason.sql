{#
    Why a stream event breaks its stream spec. stream_rejection_reason(problems)
    returns a SQL string expression: the problems found, joined by ' | ', or null
    when there are none (not '; ': the BigQuery emulator alters semicolons in the
    string literals of some queries). Each problem is a SQL string expression, null
    when the event passes, from the macros below; they name the payload field, the
    rule and the value (its first 64 characters). Staging keeps a rejected event out of the
    curated model and records it in control.streaming_rejected_events.
#}
{% macro stream_rejection_reason(problems) -%}
    {%- if problems | length == 0 -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        nullif(substr(
            {%- for problem in problems %}
            coalesce(' | ' || {{ problem }}, ''){{ ' ||' if not loop.last }}
            {%- endfor %}
        , 4), '')
    {%- endif -%}
{%- endmacro %}

{#- A required field (`text`, its JSON text) that is absent or JSON null. -#}
{% macro stream_missing_problem(text, field) -%}
    case when {{ text }} is null then 'payload field {{ field }} is missing or null' end
{%- endmacro %}

{#- A present field whose text does not convert to the column type (`value` is null; see stream_value). -#}
{% macro stream_unconverted_problem(text, value, field, type) -%}
    {%- set expected = {
        'integer': 'an integer',
        'decimal': 'a decimal number',
        'boolean': 'a boolean (true or false)',
        'timestamp': 'an ISO 8601 timestamp',
    }[type] -%}
    case
        when {{ text }} is not null and {{ value }} is null
            then 'payload field {{ field }}: "' || substr({{ text }}, 1, 64) || '" is not {{ expected }}'
    end
{%- endmacro %}

{#- A string field with a value outside `allowed_values`. -#}
{% macro stream_not_allowed_problem(value, field, allowed_values) -%}
    case
        when {{ value }} not in ('{{ allowed_values | join("', '") }}')
            then 'payload field {{ field }}: "' || substr({{ value }}, 1, 64) || '" is not one of {{ allowed_values | join(", ") }}'
    end
{%- endmacro %}

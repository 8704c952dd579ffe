{# Generated from source_specs/reference/*.yaml, source_specs/trading/*.yaml by orchestrator/specs/dbt_codegen.py: do not edit; change the spec and regenerate. #}
{#
    Returns the name of every raw table the loader writes, one per spec (trade and
    reference). Models loop over it with source('raw', name).
#}
{% macro raw_source_tables() -%}
    {{ return([
        'bloomberg_trades',
        'books',
        'counterparties',
        'instruments',
        'murex_trades',
        'traders',
        'venue_executions',
    ]) }}
{%- endmacro %}

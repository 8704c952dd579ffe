{# Generated from source_specs/trading/*.yaml by orchestrator/specs/dbt_codegen.py: do not edit; change the spec and regenerate. #}
{#
    Returns the names of every trade staging model, one per trade spec. Models
    loop over it with ref() so dbt sees each dependency at parse time.
#}
{% macro trade_source_models() -%}
    {{ return([
        'stg_bloomberg_trades__trades',
        'stg_murex_trades__trades',
        'stg_venue_executions__trades',
    ]) }}
{%- endmacro %}

{#- Every trade staging model, one per trade spec (macros/generated/trade_source_models.sql). -#}
{%- set trade_columns = [
    'source_name', 'domain', 'source_system', 'source_trade_id', 'trade_version', 'event_type',
    'trade_date', 'executed_at', 'settlement_date', 'isin', 'side', 'quantity', 'price', 'currency',
    'trader_id', 'book_id', 'counterparty_lei', 'venue_mic',
    '_file_id', '_landing_key', '_source_row_number', '_business_date', '_ingested_at'
] -%}

with

{% for model_name in trade_source_models() %}
{{ model_name }} as (

    select * from {{ ref(model_name) }}

),

{% endfor %}
trades_unioned as (
{% for model_name in trade_source_models() %}
    select
        {{ trade_columns | join(',\n        ') }}
    from {{ model_name }}
    {%- if not loop.last %}

    union all
{% endif %}
{% endfor %}
)

select * from trades_unioned

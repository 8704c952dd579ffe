-- Every trade_id is 32 lowercase hex characters and recomputes from its domain, source_system and source_trade_id.
with

trades_enriched as (

    select * from {{ ref('trades_enriched') }}

)

select *
from trades_enriched
where
    not {{ regex_matches('trade_id', '^[0-9a-f]{32}$') }}
    or trade_id != {{ trade_id('domain', 'source_system', 'source_trade_id') }}

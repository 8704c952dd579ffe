-- trade_id('trading', 'MUREX', 'MX0000000001') equals Python orchestrator.identity.trade_id for the same key (tests/dbt pins the Python side).
with

pinned_trade_id as (

    select {{ trade_id("'trading'", "'MUREX'", "'MX0000000001'") }} as trade_id

)

select *
from pinned_trade_id
where trade_id != '21a4862beb8d96bee241fe64a7af148d'

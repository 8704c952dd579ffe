-- Each curated trade holds the latest staged version; exception: a version whose trade_date and _business_date are both older than the lookback window is only picked up with force_full_refresh=true (warn, so the extract still ships).
{{ config(severity='warn') }}

with

trades_enriched as (

    select * from {{ ref('trades_enriched') }}

),

trades_unioned as (

    select * from {{ ref('trades_unioned') }}

),

latest_staged_versions as (

    select
        {{ trade_id('domain', 'source_system', 'source_trade_id') }} as trade_id,
        max(trade_version) as latest_trade_version
    from trades_unioned
    group by 1

)

select
    trades_enriched.trade_id,
    trades_enriched.trade_version,
    latest_staged_versions.latest_trade_version
from trades_enriched
inner join latest_staged_versions
    on trades_enriched.trade_id = latest_staged_versions.trade_id
where trades_enriched.trade_version != latest_staged_versions.latest_trade_version

"""The deterministic trade identity shared with dbt's `trade_id` macro."""

from __future__ import annotations

import hashlib

# Must equal the `markets_namespace` var in dbt_project.yml; a test pins both.
MARKETS_NAMESPACE = "bank-markets"


def trade_id(domain: str, source_system: str, source_trade_id: str, namespace: str = MARKETS_NAMESPACE) -> str:
    """Lowercase hex MD5 of `namespace:domain:source_system:source_trade_id`."""
    key = f"{namespace}:{domain}:{source_system}:{source_trade_id}"
    return hashlib.md5(key.encode("utf-8"), usedforsecurity=False).hexdigest()


def event_id(
    domain: str,
    source_system: str,
    source_trade_id: str,
    source_event_id: str,
    namespace: str = MARKETS_NAMESPACE,
) -> str:
    """Lowercase hex MD5 of `namespace:domain:source_system:source_trade_id:event:source_event_id`."""
    key = f"{namespace}:{domain}:{source_system}:{source_trade_id}:event:{source_event_id}"
    return hashlib.md5(key.encode("utf-8"), usedforsecurity=False).hexdigest()

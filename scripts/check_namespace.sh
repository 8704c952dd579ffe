#!/usr/bin/env bash
# The trade-id namespace must never change: every trade_id ever delivered is md5("<namespace>:..."), so a new
# namespace would give every trade a new id (docs/identity.md). Fails unless the dbt var `markets_namespace`
# and orchestrator/identity.py MARKETS_NAMESPACE both equal the namespace pinned here.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PINNED=bank-markets

dbt=$(sed -nE 's/^[[:space:]]+markets_namespace:[[:space:]]*"?([^"#[:space:]]+)"?.*$/\1/p' \
    "$REPO/dbt_project/dbt_project.yml")
python=$(sed -nE 's/^MARKETS_NAMESPACE[[:space:]]*(:[^=]*)?=[[:space:]]*"([^"]*)".*$/\2/p' \
    "$REPO/orchestrator/identity.py")

fail=0
check() { # where value
    if [[ -z $2 ]]; then
        echo "namespace: not found in $1" >&2
        fail=1
    elif [[ $2 != "$PINNED" ]]; then
        echo "namespace: $1 has '$2', expected '$PINNED'; changing it changes every trade_id" >&2
        fail=1
    fi
}
check "dbt_project/dbt_project.yml (vars.markets_namespace)" "$dbt"
check "orchestrator/identity.py (MARKETS_NAMESPACE)" "$python"
if ((fail)); then
    exit 1
fi
echo "namespace: ok, '$PINNED' in dbt_project.yml and orchestrator/identity.py"

#!/usr/bin/env bash
# make docs: the dbt documentation site (models, columns, tests and the lineage graph) for dbt_project/.
#
#   1. home     a populated local home: `mdp demo` into $MDP_DOCS_DIR/home (a fresh DuckDB warehouse), unless
#               MDP_DOCS_HOME names an existing home whose warehouse dbt has built (then it is only read)
#   2. docs     `dbt docs generate --static` against that warehouse, so the catalog has real column types and
#               row counts, into $MDP_DOCS_DIR/site
#
# Output: $MDP_DOCS_DIR/site/static_index.html is one self-contained page (open it from disk, no server);
# index.html + manifest.json + catalog.json are the usual site, to serve from that folder over HTTP.
#
# Settings (environment):
#   MDP_DOCS_DIR   where the home, site and logs go (default .mdp/dbt-docs; `make run` wipes .mdp, rerun after it)
#   MDP_DOCS_HOME  an existing home to document instead of building one with `mdp demo`
#   DATE, SEED     business date and seed of the demo day (default 2026-11-20 and 7, as `make run`)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$REPO/.venv/bin
DOCS_DIR=$(realpath -m "${MDP_DOCS_DIR:-$REPO/.mdp/dbt-docs}")
DATE=${DATE:-2026-11-20}
SEED=${SEED:-7}

say() { echo "build-docs: $*" >&2; }

if [[ -n ${MDP_DOCS_HOME:-} ]]; then
    HOME_DIR=$(realpath -m "$MDP_DOCS_HOME")
    if [[ ! -f $HOME_DIR/warehouse.duckdb ]]; then
        say "ERROR: MDP_DOCS_HOME=$HOME_DIR has no warehouse.duckdb; run 'mdp --home $HOME_DIR demo' first"
        exit 1
    fi
else
    HOME_DIR=$DOCS_DIR/home
    mkdir -p "$DOCS_DIR"
    say "building a demo home in $HOME_DIR (business date $DATE, seed $SEED)"
    # The demo empties its home first: only $DOCS_DIR/home, never the rest of .mdp.
    "$BIN/mdp" --home "$HOME_DIR" demo --date "$DATE" --seed "$SEED" --json >"$DOCS_DIR/demo.json" 2>"$DOCS_DIR/demo.log" || {
        say "ERROR: mdp demo failed; its log is $DOCS_DIR/demo.log"
        exit 1
    }
fi
mkdir -p "$DOCS_DIR"

say "generating the dbt docs against $HOME_DIR/warehouse.duckdb"
rm -rf "$DOCS_DIR/site"
MDP_WAREHOUSE_PATH=$HOME_DIR/warehouse.duckdb DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    "$BIN/dbt" docs generate --static \
    --project-dir "$REPO/dbt_project" --profiles-dir "$REPO/dbt_project" --target local \
    --target-path "$DOCS_DIR/site" --log-path "$DOCS_DIR/logs" --vars "{as_of_date: '$DATE'}" >"$DOCS_DIR/dbt-docs.log" 2>&1 || {
    say "ERROR: dbt docs generate failed; see $DOCS_DIR/dbt-docs.log"
    tail -20 "$DOCS_DIR/dbt-docs.log" >&2
    exit 1
}

for file in static_index.html index.html manifest.json catalog.json; do
    [[ -s $DOCS_DIR/site/$file ]] || { say "ERROR: $DOCS_DIR/site/$file was not written"; exit 1; }
done
echo "dbt docs (one self-contained page): $DOCS_DIR/site/static_index.html"
echo "dbt docs site (index.html with manifest.json and catalog.json; serve the folder): $DOCS_DIR/site"

#!/usr/bin/env bash
# make tf-check: static checks of terraform/ that need no Google credentials and no Terraform registry.
#
#   1. control tables  terraform/modules/bigquery/control_tables.json equals orchestrator/warehouse/control_tables.py
#   2. skip reasons    every `#checkov:skip=CKV_...` carries a written reason
#   3. format          tofu fmt -check -recursive (parses every .tf file)
#   4. parse           python-hcl2 parses every .tf file and names it
#   5. validate        tofu init -backend=false + tofu validate for each root in terraform/envs/
#   6. test            tofu test in every root and module with *.tftest.hcl files (in it or in its tests/): each
#                      run is a `command = plan` against mock_provider "google", so it needs no credentials
#   7. checkov         --framework terraform; fails on any failed check that is not skipped in code
#
# Tools are built or installed once, pinned, into ${MDP_TOOLS_CACHE:-~/.cache/mdp-tools}:
#   OpenTofu      built with Go from scripts/tools/tofu (its go.mod pins the version)
#   checkov       from PyPI into its own venv (its pins clash with ours)
#   google provider  for `tofu validate` and `tofu test` (a mock provider still needs the real one's schema):
#                 registry.opentofu.org when it answers; otherwise built with Go from
#                 scripts/tools/terraform-provider-google and offered to tofu as a filesystem mirror. When neither
#                 works, steps 5 and 6 are skipped and the output says so; steps 3 and 4 still parse every file.
#
# Why "any failed check" rather than "HIGH or CRITICAL": checkov assigns severities only with a Prisma Cloud
# (Bridgecrew) API key, which this check does not have and must not need. So every failed check fails the run,
# and a check we accept is skipped in the resource itself with `#checkov:skip=CKV_ID:reason` (step 2 enforces
# the reason). That is stricter than the HIGH/CRITICAL rule and keeps every exception reviewable in the diff.
#
# Settings (environment):
#   MDP_TOOLS_CACHE         tool installs, shared between checkouts (default ~/.cache/mdp-tools)
#   MDP_TF_PROVIDER_SOURCE  auto (default: registry if it answers, else local build), registry, build, none
#   MDP_TF_WRITE_CONTROL_TABLES=1  rewrite control_tables.json from control_tables.py instead of comparing
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=$REPO/scripts/tools
TF_DIR=$REPO/terraform
CACHE=${MDP_TOOLS_CACHE:-$HOME/.cache/mdp-tools}
PROVIDER_SOURCE=${MDP_TF_PROVIDER_SOURCE:-auto}

# Pins. OpenTofu's and the provider's are the `require` lines of their go.mod files.
CHECKOV_VERSION=3.3.30
TOFU_VERSION=$(awk '$1 == "require" && $2 == "github.com/opentofu/opentofu" {print $3}' "$TOOLS/tofu/go.mod")
PROVIDER_MODULE_VERSION=$(awk '$1 == "require" && $2 == "github.com/hashicorp/terraform-provider-google" {print $3}' \
    "$TOOLS/terraform-provider-google/go.mod")
# The release the pinned commit belongs to (its CHANGELOG); the filesystem mirror offers the build as this version.
PROVIDER_VERSION=8.0.0

TOFU_DIR=$CACHE/opentofu/$TOFU_VERSION
CHECKOV_DIR=$CACHE/checkov/$CHECKOV_VERSION
PROVIDER_DIR=$CACHE/terraform-provider-google/$PROVIDER_MODULE_VERSION
TOFU=$TOFU_DIR/bin/tofu
CHECKOV=$CHECKOV_DIR/venv/bin/checkov

STARTED=$SECONDS
SUMMARY=()
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LOG_PREFIX=tf-check
GO_EXTRA_FLAGS="-mod=mod" # the builds of the pinned tool modules may complete their go.mod and go.sum
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"

# --- install -------------------------------------------------------------------------------------------------
# Each install writes <dir>/.installed last, so an interrupted install is redone rather than trusted.

go_build() { # dir module-dir package output [ldflags]
    cp "$2/go.mod" "$2/go.sum" "$2/tools.go" "$1/"
    (cd "$1" && go_env go build -ldflags "${5:-}" -o "$4" "$3")
}

install_tofu() {
    local what="OpenTofu $TOFU_VERSION"
    if installed "$TOFU_DIR"; then
        return
    fi
    command -v go >/dev/null || die "$what: needs Go 1.26 or later on PATH"
    begin_install "$TOFU_DIR" "$what"
    say "$what: a cold build takes about 6 minutes on 2 cores"
    # dev=no: report the release version, not "<version>-dev".
    go_build "$TOFU_DIR" "$TOOLS/tofu" github.com/opentofu/opentofu/cmd/tofu "$TOFU" \
        "-s -w -X github.com/opentofu/opentofu/version.dev=no" >"$TOFU_DIR/install.log" 2>&1 ||
        install_failed "$TOFU_DIR" "$what"
    end_install "$TOFU_DIR" "$what"
}

install_checkov() {
    local what="checkov $CHECKOV_VERSION"
    if installed "$CHECKOV_DIR"; then
        return
    fi
    begin_install "$CHECKOV_DIR" "$what"
    {
        "${PYTHON:-python3}" -m venv "$CHECKOV_DIR/venv" &&
            "$CHECKOV_DIR/venv/bin/pip" install --disable-pip-version-check "checkov==$CHECKOV_VERSION"
    } >"$CHECKOV_DIR/install.log" 2>&1 || install_failed "$CHECKOV_DIR" "$what"
    end_install "$CHECKOV_DIR" "$what"
}

# Builds the provider into an unpacked filesystem mirror; returns non-zero (without dying) when it cannot.
install_provider_build() {
    local what="hashicorp/google $PROVIDER_VERSION (source $PROVIDER_MODULE_VERSION)"
    local mirror=$PROVIDER_DIR/mirror/registry.opentofu.org/hashicorp/google/$PROVIDER_VERSION/linux_amd64
    if installed "$PROVIDER_DIR"; then
        return 0
    fi
    command -v go >/dev/null || {
        say "$what: no Go on PATH, cannot build the provider"
        return 1
    }
    begin_install "$PROVIDER_DIR" "$what"
    say "$what: a cold build takes about 20 minutes on 2 cores (once per machine)"
    mkdir -p "$mirror"
    if ! go_build "$PROVIDER_DIR" "$TOOLS/terraform-provider-google" github.com/hashicorp/terraform-provider-google \
        "$mirror/terraform-provider-google_v$PROVIDER_VERSION" "-s -w" >"$PROVIDER_DIR/install.log" 2>&1; then
        tail -n 20 "$PROVIDER_DIR/install.log" >&2 || true
        say "$what: build failed; full log: $PROVIDER_DIR/install.log"
        return 1
    fi
    end_install "$PROVIDER_DIR" "$what"
}

registry_answers() {
    curl -fsS -m 10 -o /dev/null https://registry.opentofu.org/v1/providers/hashicorp/google/versions 2>/dev/null
}

# Picks where `tofu init` gets the provider: sets CLI_CONFIG and PROVIDER_FROM, or PROVIDER_FROM=none + WHY.
choose_provider_source() {
    CLI_CONFIG=$WORK/tofurc
    : >"$CLI_CONFIG"
    case $PROVIDER_SOURCE in
        auto | registry)
            if registry_answers; then
                PROVIDER_FROM="registry.opentofu.org"
                return
            fi
            if [[ $PROVIDER_SOURCE == registry ]]; then
                die "MDP_TF_PROVIDER_SOURCE=registry but registry.opentofu.org does not answer"
            fi
            say "registry.opentofu.org does not answer: using hashicorp/google built from the Go module proxy"
            ;;
        build) ;;
        none)
            PROVIDER_FROM=none
            WHY="MDP_TF_PROVIDER_SOURCE=none"
            return
            ;;
        *) die "MDP_TF_PROVIDER_SOURCE must be auto, registry, build or none, not '$PROVIDER_SOURCE'" ;;
    esac
    if install_provider_build; then
        cat >"$CLI_CONFIG" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$PROVIDER_DIR/mirror"
    include = ["registry.opentofu.org/hashicorp/google"]
  }
}
EOF
        PROVIDER_FROM="local build of $PROVIDER_MODULE_VERSION, offered as $PROVIDER_VERSION"
    else
        PROVIDER_FROM=none
        WHY="no provider: registry.opentofu.org does not answer and the build from the Go module proxy failed"
    fi
}

# --- checks --------------------------------------------------------------------------------------------------

# The BigQuery schema JSON of every control table, from the module the orchestrator writes them with.
control_tables_json() {
    "${PYTHON:-python3}" - "$REPO/orchestrator/warehouse/control_tables.py" <<'EOF'
import importlib.util
import json
import sys

spec = importlib.util.spec_from_file_location("control_tables", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
types = {"string": "STRING", "integer": "INT64", "decimal": "NUMERIC", "date": "DATE", "timestamp": "TIMESTAMP",
         "boolean": "BOOL"}
tables = []
for table, columns in module.CONTROL_TABLES.items():
    rows = ",\n".join(
        "    " + json.dumps({"name": name, "type": types[kind], "mode": "NULLABLE"}) for name, kind in columns
    )
    tables.append(f"  {json.dumps(table)}: [\n{rows}\n  ]")
print("{\n" + ",\n".join(tables) + "\n}")
EOF
}

check_control_tables() {
    local target=$TF_DIR/modules/bigquery/control_tables.json expected
    expected=$(control_tables_json)
    if [[ ${MDP_TF_WRITE_CONTROL_TABLES:-} == 1 ]]; then
        printf '%s\n' "$expected" >"$target"
        say "wrote $target"
    elif ! diff -u "$target" <(printf '%s\n' "$expected") >&2; then
        die "control tables: $target differs from orchestrator/warehouse/control_tables.py (diff above);" \
            "rewrite it with MDP_TF_WRITE_CONTROL_TABLES=1 scripts/tf_check.sh"
    fi
    step "control tables" "ok: $(grep -c '^  "' "$target") tables equal control_tables.py"
}

check_skip_reasons() {
    local skips bad
    skips=$(grep -rn --include='*.tf' 'checkov:skip=' "$TF_DIR" || true)
    bad=$(printf '%s\n' "$skips" | grep -vE '#checkov:skip=CKV2?_[A-Z0-9]+_[0-9]+:[^ ].{15,}' | grep . || true)
    if [[ -n $bad ]]; then
        printf '%s\n' "$bad" >&2
        die "skip reasons: the skips above have no written reason (#checkov:skip=CKV_ID:reason)"
    fi
    step "skip reasons" "ok: $(printf '%s\n' "$skips" | grep -c . || true) skips, each with a reason"
}

check_format() {
    if ! "$TOFU" fmt -check -recursive -diff -no-color "$TF_DIR" >&2; then
        die "format: files above are not in canonical format; run: $TOFU fmt -recursive terraform"
    fi
    step "format" "ok: tofu fmt -check -recursive ($("$TOFU" version | head -n 1))"
}

check_parse() {
    local count
    count=$("$CHECKOV_DIR/venv/bin/python" - "$TF_DIR" <<'EOF'
import pathlib
import sys

import hcl2

count = 0
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.tf")):
    if ".terraform" in path.parts:
        continue
    try:
        with path.open(encoding="utf-8") as handle:
            hcl2.load(handle)
    except Exception as error:  # noqa: BLE001 - any parse error fails the check, with the file named
        sys.exit(f"parse: {path}: {error}")
    count += 1
print(count)
EOF
    ) || die "parse: a file above does not parse"
    step "parse" "ok: $count .tf files parsed (python-hcl2)"
}

# A copy of what the roots read (terraform/, the settings profiles, the stream specs) in a temporary folder:
# init writes .terraform/ and a lock file whose hashes are of whatever provider it found, which must not end up
# beside the real roots.
copy_tree() {
    local work
    work=$(mktemp -d "$WORK/tree.XXXXXX")
    cp -r "$TF_DIR" "$work/terraform"
    mkdir -p "$work/config" "$work/source_specs"
    cp -r "$REPO/config/environments" "$work/config/"
    cp -r "$REPO/source_specs/streaming" "$work/source_specs/"
    echo "$work"
}

# tofu init -backend=false in a folder of a copy_tree copy, with the provider that choose_provider_source picked.
tofu_init() { # dir
    (
        cd "$1"
        TF_CLI_CONFIG_FILE=$CLI_CONFIG "$TOFU" init -backend=false -input=false -no-color >init.log 2>&1 || {
            cat init.log >&2
            exit 1
        }
    )
}

check_validate() {
    local root name work
    if [[ $PROVIDER_FROM == none ]]; then
        say "validate: SKIPPED, $WHY. Without the provider's schema tofu cannot check resource arguments;" \
            "format and parse above still read every file, and tofu get resolves every module call."
        for root in "$TF_DIR"/envs/*/; do
            name=$(basename "$root")
            work=$(copy_tree)
            (cd "$work/terraform/envs/$name" && "$TOFU" get -no-color >/dev/null) ||
                die "modules: tofu get failed for envs/$name"
            rm -rf "$work"
        done
        step "validate" "SKIPPED ($WHY); module calls resolved with tofu get"
        return
    fi
    for root in "$TF_DIR"/envs/*/; do
        name=$(basename "$root")
        work=$(copy_tree)
        (
            tofu_init "$work/terraform/envs/$name" || exit 1
            cd "$work/terraform/envs/$name"
            TF_CLI_CONFIG_FILE=$CLI_CONFIG "$TOFU" validate -no-color >&2
        ) || die "validate: envs/$name failed (output above)"
        rm -rf "$work"
    done
    step "validate" "ok: $(find "$TF_DIR/envs" -mindepth 1 -maxdepth 1 -type d | wc -l) roots (provider: $PROVIDER_FROM)"
}

# The folders under terraform/ that have tests: *.tftest.hcl beside their .tf files or in their tests/ folder.
test_dirs() {
    find "$TF_DIR" -name '*.tftest.hcl' -not -path '*/.terraform/*' |
        sed -e "s|^$TF_DIR/||" -e 's|/[^/]*$||' -e 's|/tests$||' | sort -u
}

check_test() {
    local dirs dir work log runs=0 started=$SECONDS
    dirs=$(test_dirs)
    if [[ -z $dirs ]]; then
        step "test" "ok: no *.tftest.hcl files"
        return
    fi
    if [[ $PROVIDER_FROM == none ]]; then
        say "test: SKIPPED, $WHY. A mock provider takes its schema from the real provider."
        step "test" "SKIPPED ($WHY)"
        return
    fi
    work=$(copy_tree)
    log=$WORK/test.log
    for dir in $dirs; do
        (
            tofu_init "$work/terraform/$dir" || exit 1
            cd "$work/terraform/$dir"
            TF_CLI_CONFIG_FILE=$CLI_CONFIG "$TOFU" test -no-color >"$log" 2>&1 || {
                cat "$log" >&2
                exit 1
            }
        ) || die "test: $dir failed (output above)"
        # The closing line: "Success! N passed, 0 failed."
        runs=$((runs + $(sed -n 's/^Success! \([0-9][0-9]*\) passed, 0 failed\.$/\1/p' "$log")))
        say "test: $dir: $(grep '^Success!' "$log")"
    done
    rm -rf "$work"
    step "test" "ok: $runs runs (plan, mock provider) in $(wc -l <<<"$dirs") folders, $((SECONDS - started))s"
}

check_checkov() {
    local report summary
    report=$WORK/checkov.txt
    # --skip-download: no calls to the Prisma Cloud API (no key, no network); severities stay unknown.
    if ! (cd "$TF_DIR" && "$CHECKOV" --directory . --framework terraform --skip-download --quiet --compact \
        --output cli) >"$report" 2>&1; then
        cat "$report" >&2
        die "checkov: failed checks above; fix them, or skip one in its resource with" \
            "#checkov:skip=CKV_ID:reason when the risk is accepted"
    fi
    summary=$(grep -m 1 'Passed checks' "$report" || echo "no summary")
    step "checkov" "ok: ${summary# }"
}

# --- main ----------------------------------------------------------------------------------------------------

install_tofu
install_checkov
export TF_CLI_CONFIG_FILE=/dev/null # the machine's own CLI config (if any) plays no part
choose_provider_source

check_control_tables
check_skip_reasons
check_format
check_parse
check_validate
check_test
check_checkov

if [[ $PROVIDER_FROM == none ]]; then
    echo "tf-check: passed in $((SECONDS - STARTED))s, WITHOUT tofu validate and tofu test ($WHY)" >&2
else
    echo "tf-check: passed in $((SECONDS - STARTED))s" >&2
fi
printf '%s\n' "${SUMMARY[@]}" >&2

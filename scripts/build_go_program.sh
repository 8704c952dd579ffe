#!/usr/bin/env bash
# Build one Go program of this repository from its own go.mod and go.sum, into OUTPUT (an absolute path):
#   scripts/build_go_program.sh DIR OUTPUT
# Modules and compiled packages stay in the tools cache (lib.sh's go_env), so a second build takes seconds.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MDP_TOOLS_CACHE:-$HOME/.cache/mdp-tools}
LOG_PREFIX=build-go-program
GO_EXTRA_FLAGS="-mod=readonly" # the program's go.sum is its pin: a build never rewrites it
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"

[[ $# -eq 2 && $2 == /* ]] || die "usage: $0 DIR OUTPUT (an absolute path)"
(cd "$1" && go_env go build -o "$2" .) || die "$1: go build failed"

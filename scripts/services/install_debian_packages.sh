#!/usr/bin/env bash
# Debian packages the tests need and pip cannot provide:
#   openssh-server  the vendor's SFTP server in the delivery tests (tests/sshd.py starts a private sshd)
#   chromium        headless browser that renders the status report in its test
#
# Idempotent: a package already installed is left alone, and nothing touches apt when all are present.
# Otherwise `apt-get update` runs once, then `apt-get install -y --no-install-recommends` installs the
# missing ones at the versions of this machine's Debian release. Needs root (or sudo without a password).
#
# Usage: scripts/services/install_debian_packages.sh [PACKAGE...]   (default: the packages above)
set -euo pipefail

PACKAGES=("$@")
if [[ ${#PACKAGES[@]} -eq 0 ]]; then
    PACKAGES=(openssh-server chromium)
fi

say() { echo "debian-packages: $*" >&2; }

is_installed() { # package
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

missing=()
for package in "${PACKAGES[@]}"; do
    is_installed "$package" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    say "present: ${PACKAGES[*]}"
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    say "ERROR: missing ${missing[*]} and this machine has no apt-get; install them by hand, then rerun"
    exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! sudo -n true 2>/dev/null; then
        say "ERROR: missing ${missing[*]}; installing needs root: run 'sudo $0 ${missing[*]}', then rerun"
        exit 1
    fi
    sudo=(sudo -n)
fi

started=$SECONDS
say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# No service gets started by the package's maintainer scripts: the tests start their own sshd.
policy_rc=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy_rc ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy_rc" >/dev/null
    "${sudo[@]}" chmod 755 "$policy_rc"
    created_policy=1
fi
cleanup() { if [[ $created_policy -eq 1 ]]; then "${sudo[@]}" rm -f "$policy_rc"; fi; }
trap cleanup EXIT

"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

for package in "${missing[@]}"; do
    is_installed "$package" || {
        say "ERROR: $package is still not installed after apt-get install"
        exit 1
    }
done
say "installed ${missing[*]} in $((SECONDS - started))s"

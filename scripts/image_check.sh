#!/usr/bin/env bash
# make image-check: build the images of docker/*.Dockerfile and run each the way its manifest runs it, with
# buildah (daemonless: no Docker engine needed).
#
#   1. base          the pinned base image (ARG PYTHON_IMAGE of the Dockerfiles), pulled. Where its registry
#                    cannot be reached, a stand-in built here instead: Debian bookworm (debootstrap) with
#                    Debian's Python 3.11, the Debian release and Python minor of the pinned image. The
#                    summary says which one was used. Likewise the codec stage's Rust image (ARG RUST_IMAGE):
#                    pulled, else a stand-in of the Python one with gcc and this machine's Rust toolchain, which
#                    must be the pinned release.
#   2. build         buildah bud of each Dockerfile; layers are cached between runs
#   3. config        each image runs as 10001:10001 (the manifests' runAsUser), its entry point is `mdp`, and
#                    nothing of its build stage (/src, pip's cache) is left in it
#   4. orchestrator  the hourly CronJob's pod: the init container copies the dbt project into the run volume,
#                    then `mdp demo` (a whole generated day on the embedded default) and `mdp run` (the
#                    CronJob's args). The demo's extract must hold the same bytes, decompressed, as the same
#                    demo run outside the image.
#   5. bridge        `mdp stream list` reads the stream specs baked into the image
#   6. reporter      `mdp reporter serve` (its CMD) answers /healthz
#   Every run is as uid 10001 with the manifests' environment (orchestrator/k8s/base/kustomization.yaml), and
#   must write nothing outside the volumes the manifests mount: they set readOnlyRootFilesystem.
#
# Needs root, or sudo without a password (buildah builds as root); installs buildah and debootstrap with
# scripts/services/install_debian_packages.sh when they are missing, and the project's venv (make install) for
# the demo outside the image.
#
# Settings (environment):
#   MDP_TOOLS_CACHE   image layers and the stand-in base, shared between checkouts (default ~/.cache/mdp-tools)
#   MDP_IMAGE_BASE    auto (pull, else the stand-in; default), pull (fail without the registry), standin
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MDP_TOOLS_CACHE:-$HOME/.cache/mdp-tools}/images
BASE_MODE=${MDP_IMAGE_BASE:-auto}
IMAGES=(orchestrator bridge reporter)
DEMO_DATE=2026-11-20
DEMO_SEED=7
STANDIN=localhost/mdp-python-standin:bookworm
RUST_STANDIN=localhost/mdp-rust-standin:bookworm
# The uid and gid of the manifests' securityContext (runAsUser/runAsGroup) and of the Dockerfiles' USER.
APP_USER=10001:10001

STARTED=$SECONDS
SUMMARY=()
LOG_PREFIX=image-check
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    sudo -n true 2>/dev/null || die "buildah builds as root: run as root or with passwordless sudo"
    SUDO=(sudo -n)
fi
WORK=$(mktemp -d)
CONTAINERS=()
cleanup() {
    for container in "${CONTAINERS[@]}"; do
        bh rm "$container" >/dev/null 2>&1 || true
    done
    "${SUDO[@]}" rm -rf "$WORK"
}
trap cleanup EXIT

# Overlay layers under the cache: a second run reuses every unchanged layer.
bh() {
    "${SUDO[@]}" buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay "$@"
}

"$REPO/scripts/services/install_debian_packages.sh" buildah debootstrap
"${SUDO[@]}" mkdir -p "$CACHE"

# --- 1. base -------------------------------------------------------------------------------------------------

# The value of `ARG <name>=` in every Dockerfile; they must agree.
pinned_arg() {
    local image pins=()
    for image in "${IMAGES[@]}"; do
        pins+=("$(sed -n "s/^ARG $1=//p" "$REPO/docker/$image.Dockerfile")")
    done
    [[ -n ${pins[0]} ]] || die "docker/${IMAGES[0]}.Dockerfile has no ARG $1"
    for pin in "${pins[@]}"; do
        [[ $pin == "${pins[0]}" ]] || die "the Dockerfiles pin different $1 images: ${pins[*]}"
    done
    echo "${pins[0]}"
}

build_standin() {
    if bh inspect --type image "$STANDIN" >/dev/null 2>&1; then
        return
    fi
    local root=$WORK/standin-root started=$SECONDS
    say "stand-in base: debootstrap of Debian bookworm with python3 (about a minute)"
    "${SUDO[@]}" debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,passwd \
        bookworm "$root" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
        {
            tail -n 20 "$WORK/debootstrap.log" >&2
            die "debootstrap failed"
        }
    # The pinned image's python is on PATH as `python`; Debian's is python3.
    "${SUDO[@]}" ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
    "${SUDO[@]}" rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*
    local container
    container=$(bh from --quiet scratch)
    CONTAINERS+=("$container")
    "${SUDO[@]}" tar -C "$root" -cf "$WORK/standin.tar" .
    bh add --quiet "$container" "$WORK/standin.tar" / >/dev/null
    bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
        --cmd python3 "$container"
    bh commit --quiet "$container" "$STANDIN" >/dev/null
    say "stand-in base: built in $((SECONDS - started))s"
}

# The codec stage's image (ARG RUST_IMAGE): Debian bookworm with gcc and this machine's Rust toolchain, which must
# be the pinned image's release, on the Python stand-in (maturin runs on its Python).
build_rust_standin() {
    if bh inspect --type image "$RUST_STANDIN" >/dev/null 2>&1; then
        return
    fi
    local pinned_release=${PINNED_RUST#rust:} sysroot release started=$SECONDS container
    pinned_release=${pinned_release%%-*}
    command -v rustc >/dev/null || die "no Rust toolchain here to build the $PINNED_RUST stand-in from"
    release=$(rustc --version | cut -d' ' -f2)
    [[ $release == "$pinned_release" ]] ||
        die "the $PINNED_RUST stand-in needs Rust $pinned_release here, not $release"
    sysroot=$(rustc --print sysroot)
    say "rust stand-in: Rust $release from $sysroot, gcc from Debian"
    container=$(bh from --quiet "$STANDIN")
    CONTAINERS+=("$container")
    bh run --isolation chroot "${build_mounts[@]}" "$container" -- sh -c \
        'apt-get update -qq && apt-get install -qq --yes --no-install-recommends gcc libc6-dev >/dev/null &&
         rm -rf /var/lib/apt/lists/*' >"$WORK/rust-standin.log" 2>&1 || {
        tail -n 20 "$WORK/rust-standin.log" >&2
        die "installing gcc into the rust stand-in failed"
    }
    # rustc, cargo and the x86_64 standard library: what a build for this machine's target needs.
    (cd "$sysroot" && tar -cf "$WORK/rust.tar" bin/cargo bin/rustc lib/librustc_driver-*.so lib/libLLVM* \
        lib/rustlib/x86_64-unknown-linux-gnu)
    bh add --quiet "$container" "$WORK/rust.tar" /usr/local/rust >/dev/null
    bh config --env PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env CARGO_HOME=/usr/local/cargo "$container"
    bh commit --quiet "$container" "$RUST_STANDIN" >/dev/null
    say "rust stand-in: built in $((SECONDS - started))s"
}

# The machine's CA bundle, for pip inside RUN steps behind a TLS-inspecting proxy; mounted, never copied in.
CA_BUNDLE=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
build_mounts=()
[[ -f $CA_BUNDLE ]] && build_mounts=(--volume "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro")

PINNED=$(pinned_arg PYTHON_IMAGE)
PINNED_RUST=$(pinned_arg RUST_IMAGE)
BASE=""
case $BASE_MODE in
pull | auto)
    if timeout 120 "${SUDO[@]}" buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay \
        pull --quiet "docker.io/library/$PINNED" >"$WORK/pull.log" 2>&1; then
        BASE=docker.io/library/$PINNED
        step base "ok: $PINNED (pulled)"
    elif [[ $BASE_MODE == pull ]]; then
        cat "$WORK/pull.log" >&2
        die "could not pull $PINNED"
    fi
    ;;
standin) ;;
*) die "MDP_IMAGE_BASE=$BASE_MODE: choose auto, pull or standin" ;;
esac
if [[ -z $BASE ]]; then
    say "base: $PINNED cannot be pulled here; using a stand-in"
    build_standin
    BASE=$STANDIN
    container=$(bh from --quiet "$STANDIN")
    CONTAINERS+=("$container")
    step base "stand-in: Debian bookworm, $(bh run --isolation chroot "$container" -- python3 --version 2>&1) ($PINNED: registry unreachable)"
fi
# The codec stage's Rust image, from the same registry as the base, else its stand-in.
RUST_BASE=""
if [[ $BASE != "$STANDIN" ]]; then
    if timeout 300 "${SUDO[@]}" buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay \
        pull --quiet "docker.io/library/$PINNED_RUST" >"$WORK/pull-rust.log" 2>&1; then
        RUST_BASE=docker.io/library/$PINNED_RUST
        step "rust base" "ok: $PINNED_RUST (pulled)"
    elif [[ $BASE_MODE == pull ]]; then
        cat "$WORK/pull-rust.log" >&2
        die "could not pull $PINNED_RUST"
    fi
fi
if [[ -z $RUST_BASE ]]; then
    build_rust_standin
    RUST_BASE=$RUST_STANDIN
    step "rust base" "stand-in: the Python stand-in with gcc and this machine's $(rustc --version | cut -d' ' -f1-2) ($PINNED_RUST: registry unreachable)"
fi

# --- 2. build ------------------------------------------------------------------------------------------------

for image in "${IMAGES[@]}"; do
    started=$SECONDS
    say "build: mdp-$image (log: $WORK/build-$image.log; a cold build takes a few minutes)"
    bh bud --isolation chroot --layers "${build_mounts[@]}" \
        --build-arg "PYTHON_IMAGE=$BASE" --build-arg "RUST_IMAGE=$RUST_BASE" \
        --file "$REPO/docker/$image.Dockerfile" --tag "localhost/mdp-$image:check" "$REPO" \
        >"$WORK/build-$image.log" 2>&1 || {
        tail -n 30 "$WORK/build-$image.log" >&2
        die "build of docker/$image.Dockerfile failed"
    }
    size=$(bh images --format '{{.Size}}' "localhost/mdp-$image:check" | head -n 1)
    step "build $image" "ok: $((SECONDS - started))s, $size"
done

# --- 3. config -----------------------------------------------------------------------------------------------

for image in "${IMAGES[@]}"; do
    ref=localhost/mdp-$image:check
    user=$(bh inspect --type image --format '{{.OCIv1.Config.User}}' "$ref")
    entrypoint=$(bh inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$ref")
    [[ $user == "$APP_USER" ]] || die "mdp-$image runs as '$user', not $APP_USER (the manifests' runAsUser)"
    [[ $entrypoint == '[mdp]' ]] || die "mdp-$image: entry point $entrypoint, not mdp"
    container=$(bh from --quiet "$ref")
    CONTAINERS+=("$container")
    root=$(bh mount "$container")
    for leftover in src root/.cache/pip; do
        "${SUDO[@]}" test ! -e "$root/$leftover" || die "mdp-$image: /$leftover of the build stage is in the image"
    done
    "${SUDO[@]}" test -x "$root/opt/venv/bin/mdp" || die "mdp-$image: /opt/venv/bin/mdp is missing"
    bh umount "$container" >/dev/null
    step "config $image" "ok: user $user, entry point mdp, no build leftovers"
done

# --- runs as the manifests run them -----------------------------------------------------------------------

# One container per image; volumes as the manifests mount them (/var/run/mdp and /tmp, emptyDirs owned by the
# pod's fsGroup), the base ConfigMap's settings, and the image's own user.
new_container() { # image -> container id; its volumes under $WORK/<image>
    local image=$1 container
    "${SUDO[@]}" mkdir -p "$WORK/$image/run" "$WORK/$image/tmp"
    "${SUDO[@]}" chown -R "$APP_USER" "$WORK/$image"
    container=$(bh from --quiet "localhost/mdp-$image:check")
    CONTAINERS+=("$container")
    echo "$container"
}

# The base ConfigMap's settings (mdp-settings in orchestrator/k8s/base/kustomization.yaml), read from it so the
# runs follow it when it changes.
make -C "$REPO" --no-print-directory install >/dev/null
CONFIG_ENV=()
while read -r literal; do CONFIG_ENV+=(--env "$literal"); done < <("$REPO/.venv/bin/python" -c 'import sys, yaml
kustomization = yaml.safe_load(open(sys.argv[1]))
(settings,) = [m for m in kustomization["configMapGenerator"] if m["name"] == "mdp-settings"]
print("\n".join(settings["literals"]))' "$REPO/orchestrator/k8s/base/kustomization.yaml")
[[ ${#CONFIG_ENV[@]} -gt 0 ]] || die "no mdp-settings literals in orchestrator/k8s/base/kustomization.yaml"

run_in() { # image container command...
    local image=$1 container=$2
    shift 2
    # /var/run is a link to /run in the image: the volume goes where the link leads, as the kubelet resolves it.
    bh run --isolation chroot --network host \
        --volume "$WORK/$image/run:/run/mdp" --volume "$WORK/$image/tmp:/tmp" "${CONFIG_ENV[@]}" \
        "$container" -- "$@"
}

# What a run wrote to the container's own filesystem (its overlay upper layer), less the mount points buildah
# makes for the volumes and the files it injects (hosts, resolv.conf): empty under readOnlyRootFilesystem.
written_outside_volumes() { # container
    local merged upper
    merged=$(bh mount "$1")
    upper=${merged%/merged}/diff
    "${SUDO[@]}" find "$upper" -mindepth 1 \
        ! -path "$upper/run/mdp" ! -path "$upper/tmp" \
        ! -path "$upper/etc" ! -path "$upper/etc/hosts" ! -path "$upper/etc/resolv.conf" \
        ! -path "$upper/etc/hostname" ! -path "$upper/run" ! -path "$upper/run/.containerenv" \
        -printf '/%P\n'
    bh umount "$1" >/dev/null
}

check_read_only() { # image container
    local written
    written=$(written_outside_volumes "$2")
    [[ -z $written ]] || die "mdp-$1 wrote outside its volumes (readOnlyRootFilesystem would refuse): $written"
}

# --- 4. orchestrator -----------------------------------------------------------------------------------------

started=$SECONDS
container=$(new_container orchestrator)
run_in orchestrator "$container" cp -r /app/dbt_project /var/run/mdp/ # the CronJob's init container
say "orchestrator: mdp demo --date $DEMO_DATE --seed $DEMO_SEED in the image"
run_in orchestrator "$container" mdp demo --date "$DEMO_DATE" --seed "$DEMO_SEED" --json \
    >"$WORK/demo-image.json" 2>"$WORK/demo-image.log" || {
    tail -n 30 "$WORK/demo-image.log" >&2
    die "mdp demo failed in mdp-orchestrator"
}
run_in orchestrator "$container" mdp run >"$WORK/run-image.log" 2>&1 || {
    tail -n 30 "$WORK/run-image.log" >&2
    die "mdp run (the CronJob's args) failed in mdp-orchestrator"
}
check_read_only orchestrator "$container"
say "orchestrator: the same demo outside the image"
(cd "$WORK" && MDP_HOME=$WORK/host-home "$REPO/.venv/bin/mdp" demo --date "$DEMO_DATE" --seed "$DEMO_SEED" --json \
    >"$WORK/demo-host.json" 2>"$WORK/demo-host.log") || {
    tail -n 30 "$WORK/demo-host.log" >&2
    die "mdp demo failed outside the image"
}
# The extract's content, decompressed: gzip's bytes depend on the zlib each Python links, the content must not.
extract() { # home -> "rows sha256" of the demo day's extract
    "${SUDO[@]}" python3 -c 'import gzip, hashlib, pathlib, sys
(path,) = pathlib.Path(sys.argv[1], "extracts", sys.argv[2]).glob("*.jsonl.gz")
content = gzip.decompress(path.read_bytes())
print(content.count(b"\n"), hashlib.sha256(content).hexdigest())' "$1" "$DEMO_DATE"
}
read -r image_rows image_sha <<<"$(extract "$WORK/orchestrator/run/home")"
read -r host_rows host_sha <<<"$(extract "$WORK/host-home")"
[[ $image_sha == "$host_sha" ]] ||
    die "the image's extract differs from the host's: $image_rows rows sha256 $image_sha, against $host_rows rows $host_sha"
step orchestrator "ok: demo extract $image_rows trades, content sha256 ${image_sha:0:16}… as outside the image; mdp run ok; read-only root ok ($((SECONDS - started))s)"

# --- 5. bridge -----------------------------------------------------------------------------------------------

container=$(new_container bridge)
streams=$(run_in bridge "$container" mdp stream list --json) || die "mdp stream list failed in mdp-bridge"
python3 -c 'import json, sys; assert any(s["name"] == "rfq" for s in json.loads(sys.argv[1]))' "$streams" ||
    die "mdp-bridge does not list the rfq stream: $streams"
check_read_only bridge "$container"
step bridge "ok: mdp stream list finds the rfq stream spec; read-only root ok"

# --- 6. reporter ---------------------------------------------------------------------------------------------

container=$(new_container reporter)
# Its reference data: the warehouse the orchestrator image built (healthz answers 200 once it is loaded).
"${SUDO[@]}" cp -a "$WORK/orchestrator/run/home" "$WORK/reporter/run/home"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Its CMD with the environment terraform/modules/reporter gives the Cloud Run service (two server processes; the
# regulator is not called by /healthz), and the port as an option so that this server alone is stopped after.
run_in reporter "$container" env MDP_REPORTER_WORKERS=2 MDP_REPORTER_AUDIENCE=https://mdp-reporter.example.run.app \
    MDP_REPORTER_PUSH_SERVICE_ACCOUNT=mdp-reporter-invoker@mdp-int.iam.gserviceaccount.com \
    MDP_REGULATOR_URL=http://127.0.0.1:9/ MDP_REGULATOR_API_KEY=image-check \
    mdp reporter serve --port "$port" >"$WORK/reporter.log" 2>&1 &
server=$!
healthy=""
for _ in $(seq 1 60); do
    if healthy=$(python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2).status)' "$port" 2>/dev/null); then
        break
    fi
    kill -0 "$server" 2>/dev/null || break
    sleep 1
done
"${SUDO[@]}" pkill -TERM -f "mdp reporter serve --port $port" 2>/dev/null || true
wait "$server" 2>/dev/null || true
[[ $healthy == 200 ]] || {
    tail -n 30 "$WORK/reporter.log" >&2
    die "mdp-reporter: mdp reporter serve did not answer /healthz"
}
check_read_only reporter "$container"
step reporter "ok: mdp reporter serve (2 processes) answers /healthz 200; read-only root ok"

say "passed in $((SECONDS - STARTED))s"
printf '%s\n' "${SUMMARY[@]}" >&2

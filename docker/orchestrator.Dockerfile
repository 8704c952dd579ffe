# The batch lane: `mdp run`, `mdp extract`, `mdp deliver`, `mdp watch` and the runbook commands (GKE).
# Build from the repository root: docker build -f docker/orchestrator.Dockerfile -t mdp-orchestrator .
#
# The base image is pinned to an exact release tag; the release job resolves it to a digest
# (python:3.11.14-slim-bookworm@sha256:...) when it pushes, so int and prod run the same bytes.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# The mdp package imports the bridge's codec (streaming_codec/, Rust): a wheel built in a stage of its own.
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm

# --- codec: streaming_codec as a wheel for the base image's Python (Debian bookworm's is 3.11, as the base's) ---
FROM ${RUST_IMAGE} AS codec
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install --yes --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/maturin && /opt/maturin/bin/pip install maturin==1.16.0
WORKDIR /src
COPY streaming_codec streaming_codec
RUN /opt/maturin/bin/maturin build --release --locked --manifest-path streaming_codec/Cargo.toml \
    --interpreter python3 --out /wheels

# --- build: a venv with the locked dependencies, then our package without touching them ------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The lock first: this layer is rebuilt only when the lock changes.
COPY requirements.lock .
RUN pip install pip==25.3 && pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY orchestrator orchestrator
COPY streaming streaming
COPY regulatory_reporter regulatory_reporter
COPY --from=codec /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && pip install --no-deps . && python -m compileall -q /opt/venv

# --- runtime -----------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# The uid and gid the Kubernetes manifests run as (runAsUser/runAsGroup 10001).
RUN groupadd --system --gid 10001 mdp && useradd --system --uid 10001 --gid mdp --home-dir /var/run/mdp mdp
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Settings profiles, source specs and the dbt project are read from the working directory.
COPY config config
COPY source_specs source_specs
COPY dbt_project dbt_project
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    MDP_HOME=/var/run/mdp/home
USER 10001:10001
ENTRYPOINT ["mdp"]
CMD ["run"]

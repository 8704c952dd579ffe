# The regulatory reporter on Cloud Run: `mdp reporter serve` listens on $PORT (Cloud Run sets it; 8080 here).
# Build from the repository root: docker build -f docker/reporter.Dockerfile -t mdp-reporter .
#
# The base image is pinned to an exact release tag; the release job resolves it to a digest when it pushes, and
# terraform/envs/<env> deploys the reporter by that digest.
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
RUN groupadd --system --gid 10001 mdp && useradd --system --uid 10001 --gid mdp --home-dir /var/run/mdp mdp
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY config config
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["mdp"]
CMD ["reporter", "serve"]

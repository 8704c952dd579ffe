# Markets Data Pipeline. `make run` and `make test` work on a fresh machine: each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MDP := $(BIN)/mdp
DATE ?= 2026-11-20
SEED ?= 7
SOURCE ?= venue_executions
ENV ?= local
SERVICES := scripts/services.sh
# Tools and build caches shared between checkouts.
TOOLS_CACHE := $(or $(MDP_TOOLS_CACHE),$(HOME)/.cache/mdp-tools)
# The bridge's codec (Rust, built by maturin on install); its build cache is shared between checkouts.
CODEC := streaming_codec
CODEC_SOURCES := $(addprefix $(CODEC)/,Cargo.toml Cargo.lock pyproject.toml streaming_codec.pyi) \
	$(wildcard $(CODEC)/src/*.rs)
export CARGO_TARGET_DIR ?= $(TOOLS_CACHE)/cargo-target/$(CODEC)
# The benchmark's Pub/Sub that is never the limit (Go); its modules and build cache stay in the tools cache.
ACK_ENDPOINT_DIR := bench/pubsub-ack-endpoint
ACK_ENDPOINT := $(TOOLS_CACHE)/pubsub-ack-endpoint/pubsub-ack-endpoint

.PHONY: install lint test services-up services-down run dbt-compile validate-specs test-source bench bench-streaming \
	bench-reporter tf-check k8s-check image-check docs clean

$(STAMP): requirements.lock pyproject.toml $(CODEC_SOURCES)
	@command -v cargo >/dev/null || { echo "make install: cargo is missing: the bridge's codec ($(CODEC)/) is Rust:" \
		"install Rust 1.85 or later (rustup's stable, with clippy and rustfmt for make lint)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check pip==25.3
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps ./$(CODEC)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP) ## Create .venv from pinned versions

lint: install ## ruff, mypy --strict, cargo fmt and clippy, gofmt, spec validation, generated dbt and Kubernetes files up to date
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	cd $(CODEC) && cargo fmt --check && cargo clippy --locked --release --quiet -- -D warnings
	@unformatted=$$(gofmt -l $(ACK_ENDPOINT_DIR) scripts/services/bigquery-emulator/main.go) && \
		{ [ -z "$$unformatted" ] || { echo "gofmt: not formatted: $$unformatted" >&2; exit 1; }; }
	$(MDP) specs validate
	$(MDP) specs generate-dbt --check
	$(MDP) specs generate-k8s --check

# One shell, so the trap stops the services whether pytest passes, fails or is interrupted; the recipe returns
# pytest's exit code.
test: install ## pytest with the test services up: unit, validator, dbt on DuckDB, emulators, end to end
	@trap '$(SERVICES) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(SERVICES) up && eval "$$($(SERVICES) env)" && $(BIN)/pytest -q

services-up: ## Install (once, into ~/.cache/mdp-services) and start the emulators and Kafka; see docs/testing.md
	$(SERVICES) up

services-down: ## Stop everything services-up started
	$(SERVICES) down

# ENV=emulator runs the same job on fake-gcs-server and the BigQuery emulator, with the services up for the run
# (3.5 to 5 minutes). Its extract is byte-identical to `mdp demo` with the same arguments.
run: install ## The main job on the embedded default (or ENV=emulator): one generated trading day to the vendor extract
ifeq ($(ENV),emulator)
	@trap '$(SERVICES) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(SERVICES) up && eval "$$($(SERVICES) env)" && \
	$(MDP) --env emulator demo --date $(DATE) --seed $(SEED)
else
	$(MDP) --env $(ENV) demo --date $(DATE) --seed $(SEED)
endif

dbt-compile: install ## Compile every dbt model for BigQuery, through the emulator: no Google credentials needed
	@trap '$(SERVICES) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(SERVICES) up && eval "$$($(SERVICES) env)" && \
	MDP_BQ_ENDPOINT=$$BIGQUERY_EMULATOR_HOST MDP_BQ_PROJECT=$$MDP_BIGQUERY_PROJECT $(BIN)/dbt compile \
		--project-dir dbt_project --profiles-dir dbt_project --target emulator \
		--target-path $$(mktemp -d) --log-path $$(mktemp -d)

validate-specs: install ## Check every source spec against the JSON Schema
	$(MDP) specs validate

test-source: install ## Smoke-test one source: SOURCE=name
	$(MDP) specs smoke-test $(SOURCE)

bench: install ## Validator throughput and memory against DuckDB's own floor
	$(BIN)/python scripts/bench_validator.py

# The lane benchmarks start the test services themselves and stop them afterwards, like `make test`.
bench-streaming: install $(ACK_ENDPOINT) ## Bridge throughput against the Kafka and Pub/Sub ceilings, end-to-end latency, kill-run loss
	@trap '$(SERVICES) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(SERVICES) up && eval "$$($(SERVICES) env)" && $(BIN)/python scripts/bench_streaming.py --ack-endpoint $(ACK_ENDPOINT)

$(ACK_ENDPOINT): $(addprefix $(ACK_ENDPOINT_DIR)/,main.go go.mod go.sum)
	MDP_TOOLS_CACHE=$(TOOLS_CACHE) scripts/build_go_program.sh $(ACK_ENDPOINT_DIR) $@

bench-reporter: install ## Regulatory reporter latency (publish to regulator acknowledgement) at increasing rates
	@trap '$(SERVICES) down' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(SERVICES) up && eval "$$($(SERVICES) env)" && $(BIN)/python scripts/bench_reporter.py

tf-check: ## Terraform: format check, parse and validate, plan tests with a mocked provider, checkov with no failed HIGH or CRITICAL checks
	scripts/tf_check.sh

k8s-check: ## Kubernetes: render each kustomize overlay and validate it with kubeconform
	scripts/k8s_check.sh

image-check: ## Images: build docker/*.Dockerfile with buildah (no Docker engine) and run each as its manifest does
	scripts/image_check.sh

docs: install ## The dbt documentation site (lineage graph) under .mdp/dbt-docs
	scripts/build_docs.sh

clean:
	rm -rf .mdp bench/results .pytest_cache .mypy_cache .ruff_cache

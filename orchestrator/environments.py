"""Settings profiles per environment: a checked-in YAML per environment plus environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.exceptions import Terminal

ENVIRONMENTS = ("local", "emulator", "int", "prod")
BUCKET_ROLES = ("landing", "staging", "failed", "archive", "extracts")
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


class ConfigurationError(Terminal):
    """A setting is missing or wrong; the run stops before touching anything."""


@dataclass(frozen=True)
class CloudSettings:
    """Where the pipeline runs on Google Cloud (or its emulators)."""

    project: str
    """Google Cloud project of the buckets and datasets (MDP_PROJECT)."""
    location: str
    """BigQuery location of the datasets and jobs (MDP_LOCATION)."""
    buckets: Mapping[str, str]
    """Bucket name per role: landing, staging, failed, archive, extracts (MDP_BUCKET_<ROLE>)."""
    dbt_target: str
    """dbt profile target that reaches this warehouse (MDP_DBT_TARGET)."""
    storage_emulator_host: str | None = None
    """fake-gcs-server address; None on real GCS (STORAGE_EMULATOR_HOST)."""
    bigquery_endpoint: str | None = None
    """BigQuery emulator address; None on real BigQuery (BIGQUERY_EMULATOR_HOST)."""
    allow_reset: bool = False
    """Whether `mdp demo` may empty the buckets and datasets (never in int or prod)."""


def _expand(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    expanded = _VARIABLE.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    return expanded or None


def _setting(raw: Mapping[str, Any], key: str, variable: str, env: str, config: Path) -> str:
    value = os.environ.get(variable) or _expand(raw.get(key))
    if not value:
        raise ConfigurationError(f"setting {key!r} is missing for --env {env}: set {variable} or {key} in {config}")
    return str(value)


def load_environment(env: str, config_dir: Path) -> CloudSettings | None:
    """The cloud settings of an environment, or None for the embedded default."""
    if env not in ENVIRONMENTS:
        raise ConfigurationError(f"unknown environment {env!r} (MDP_ENV): choose one of {', '.join(ENVIRONMENTS)}")
    config = config_dir / f"{env}.yaml"
    if not config.exists():
        raise ConfigurationError(f"environment file {config} is missing")
    raw: dict[str, Any] = yaml.safe_load(config.read_text()) or {}
    if raw.get("backend", "local") == "local":
        return None
    buckets_raw: Mapping[str, Any] = raw.get("buckets") or {}
    buckets = {role: _setting(buckets_raw, role, f"MDP_BUCKET_{role.upper()}", env, config) for role in BUCKET_ROLES}
    storage_host = os.environ.get("STORAGE_EMULATOR_HOST") or _expand(raw.get("storage_emulator_host"))
    bigquery_host = os.environ.get("BIGQUERY_EMULATOR_HOST") or _expand(raw.get("bigquery_endpoint"))
    if env == "emulator" and not (storage_host and bigquery_host):
        raise ConfigurationError(
            "setting 'storage_emulator_host'/'bigquery_endpoint' is missing for --env emulator: run 'make services-up' "
            "and export the variables it writes (STORAGE_EMULATOR_HOST, BIGQUERY_EMULATOR_HOST)"
        )
    return CloudSettings(
        project=_setting(raw, "project", "MDP_PROJECT", env, config),
        location=_setting(raw, "location", "MDP_LOCATION", env, config),
        buckets=buckets,
        dbt_target=_setting(raw, "dbt_target", "MDP_DBT_TARGET", env, config),
        storage_emulator_host=storage_host,
        bigquery_endpoint=bigquery_host,
        allow_reset=bool(raw.get("allow_reset", False)),
    )

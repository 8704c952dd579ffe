"""Typed settings of the batch lane; every field can come from an environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.environments import CloudSettings, load_environment

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def _project_path(variable: str, folder: str) -> Path:
    """An env override, else the folder in the working directory, else the one shipped beside the package."""
    if value := os.environ.get(variable):
        return Path(value)
    local = Path.cwd() / folder
    return local if local.exists() else _PACKAGE_ROOT / folder


@dataclass(frozen=True)
class Settings:
    """Where the embedded default keeps its buckets and warehouse, and where specs and dbt live."""

    home: Path
    """Folder holding the buckets and the warehouse (MDP_HOME, default `.mdp`)."""
    specs_dir: Path
    """Folder of source specs (MDP_SPECS_DIR)."""
    dbt_project_dir: Path
    """The dbt project (MDP_DBT_PROJECT_DIR)."""
    control_wait_minutes: int = 60
    """How long a data file waits for its required control file before it fails (MDP_CONTROL_WAIT_MINUTES)."""
    lock_ttl_minutes: int = 180
    """Age after which a cycle lock is considered abandoned by a crashed run (MDP_LOCK_TTL_MINUTES)."""
    validator_memory_limit: str = "640MB"
    """DuckDB memory limit while validating one file; larger files spill to disk (MDP_VALIDATOR_MEMORY)."""
    env: str = "local"
    """Settings profile: local, emulator, int or prod (MDP_ENV)."""
    cloud: CloudSettings | None = None
    """Buckets, project and endpoints when env is not local."""

    @classmethod
    def from_env(cls, home: Path | None = None, env: str | None = None) -> Settings:
        """Settings from arguments, then environment variables, then defaults; bad settings fail here."""
        env_name = env or os.environ.get("MDP_ENV", "local")
        return cls(
            env=env_name,
            cloud=load_environment(env_name, _project_path("MDP_CONFIG_DIR", "config") / "environments"),
            home=home or Path(os.environ.get("MDP_HOME", ".mdp")),
            specs_dir=_project_path("MDP_SPECS_DIR", "source_specs"),
            dbt_project_dir=_project_path("MDP_DBT_PROJECT_DIR", "dbt_project"),
            control_wait_minutes=int(os.environ.get("MDP_CONTROL_WAIT_MINUTES", "60")),
            lock_ttl_minutes=int(os.environ.get("MDP_LOCK_TTL_MINUTES", "180")),
            validator_memory_limit=os.environ.get("MDP_VALIDATOR_MEMORY", "640MB"),
        )

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file of the embedded warehouse."""
        return self.home / "warehouse.duckdb"

    @property
    def work_dir(self) -> Path:
        """Scratch space for validation and downloads."""
        return self.home / "work"

    @property
    def reference_lists_dir(self) -> Path:
        """ISO currency and MIC lists: the dbt seeds, shared with the validator."""
        return self.dbt_project_dir / "seeds"

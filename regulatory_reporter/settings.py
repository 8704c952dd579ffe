"""Typed settings of the regulatory lane; every field can come from an environment variable."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.settings import Settings
from regulatory_reporter.exceptions import ReporterConfigurationError

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"
LEDGER_BACKENDS = ("sqlite", "firestore")


def _float(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    try:
        return float(raw) if raw else default
    except ValueError as error:
        raise ReporterConfigurationError(f"setting {variable}={raw!r} is not a number") from error


def _int(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    try:
        return int(raw) if raw else default
    except ValueError as error:
        raise ReporterConfigurationError(f"setting {variable}={raw!r} is not an integer") from error


def _list(variable: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in os.environ.get(variable, "").split(",") if item.strip())


def _instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class ReporterSettings:
    """Where the ledger, the regulator and the reference data are, and how hard to retry."""

    base: Settings
    """The pipeline's settings: home, environment and warehouse (reference data comes from its dimensions)."""
    ledger_backend: str = "sqlite"
    """sqlite (embedded default, a file under the home) or firestore (MDP_REPORTER_LEDGER)."""
    ledger_path: Path | None = None
    """SQLite ledger file; default `<home>/regulatory_ledger.sqlite3` (MDP_REPORTER_LEDGER_PATH)."""
    firestore_project: str = "mdp-local"
    """Project of the Firestore ledger; default the environment's project (MDP_REPORTER_FIRESTORE_PROJECT)."""
    ledger_collection: str = "regulatory_ledger"
    """Firestore collection of ledger entries (MDP_REPORTER_LEDGER_COLLECTION)."""
    regulator_url: str | None = None
    """Base URL of the regulator's API; submissions go to `<url>/v1/submissions` (MDP_REGULATOR_URL)."""
    regulator_api_key: str | None = field(default=None, repr=False)
    """API key sent as a bearer token to the regulator, from Secret Manager in the cloud (MDP_REGULATOR_API_KEY)."""
    regulator_timeout_s: float = 10.0
    """Timeout of one regulator call, connect and read (MDP_REGULATOR_TIMEOUT_S)."""
    retry_base_s: float = 1.0
    """First backoff delay; each retry doubles it: 1, 2, 4, 8, 16 s (MDP_REPORTER_RETRY_BASE_S)."""
    retries: int = 5
    """Retries after the first attempt on timeouts, connection errors and 5xx (MDP_REPORTER_RETRIES)."""
    retry_jitter: float = 0.2
    """Each delay is scaled by a random factor in [1 - jitter, 1 + jitter] (MDP_REPORTER_RETRY_JITTER)."""
    lease_s: float = 180.0
    """How long a claim on an event holds before another instance may resume it (MDP_REPORTER_LEASE_S)."""
    push_audience: str | None = None
    """Audience the push subscription's OIDC token must carry, usually the service URL (MDP_REPORTER_AUDIENCE)."""
    push_service_account: str | None = None
    """Email of the push subscription's service account (MDP_REPORTER_PUSH_SERVICE_ACCOUNT)."""
    admin_emails: tuple[str, ...] = ()
    """Identities allowed on /admin/*, comma-separated, besides the push account (MDP_REPORTER_ADMIN_EMAILS)."""
    oidc_certs_url: str = GOOGLE_CERTS_URL
    """JWKS URL of the token signer's keys (MDP_REPORTER_OIDC_CERTS_URL)."""
    oidc_public_key_file: Path | None = None
    """PEM public key used instead of the JWKS URL, e.g. a test key (MDP_REPORTER_OIDC_PUBLIC_KEY_FILE)."""
    max_body_bytes: int = 65536
    """Largest push request accepted; larger ones get 413 (MDP_REPORTER_MAX_BODY_BYTES)."""
    cache_refresh_s: float = 300.0
    """How often the reference cache reloads the dimension tables (MDP_REPORTER_CACHE_REFRESH_S)."""
    subscription: str | None = None
    """Pull subscription of the worker, `projects/P/subscriptions/S` or a bare id (MDP_REPORTER_SUBSCRIPTION)."""
    pubsub_project: str = "mdp-local"
    """Project of the worker's subscription when given as a bare id (PUBSUB_PROJECT_ID)."""
    max_in_flight: int = 64
    """Events the pull worker processes at once (MDP_REPORTER_MAX_IN_FLIGHT)."""
    instance_id: str = field(default_factory=_instance_id)
    """This process's name in ledger claims (MDP_REPORTER_INSTANCE_ID)."""

    @classmethod
    def from_env(cls, base: Settings) -> ReporterSettings:
        """Settings from environment variables, then defaults; bad values fail here."""
        project = base.cloud.project if base.cloud else "mdp-local"
        backend = os.environ.get("MDP_REPORTER_LEDGER") or ("sqlite" if base.cloud is None else "firestore")
        if backend not in LEDGER_BACKENDS:
            raise ReporterConfigurationError(
                f"setting MDP_REPORTER_LEDGER={backend!r} is unknown: choose one of {', '.join(LEDGER_BACKENDS)}"
            )
        key_file = os.environ.get("MDP_REPORTER_OIDC_PUBLIC_KEY_FILE")
        ledger_path = os.environ.get("MDP_REPORTER_LEDGER_PATH")
        return cls(
            base=base,
            ledger_backend=backend,
            ledger_path=Path(ledger_path) if ledger_path else None,
            firestore_project=os.environ.get("MDP_REPORTER_FIRESTORE_PROJECT", project),
            ledger_collection=os.environ.get("MDP_REPORTER_LEDGER_COLLECTION", "regulatory_ledger"),
            regulator_url=os.environ.get("MDP_REGULATOR_URL") or None,
            regulator_api_key=os.environ.get("MDP_REGULATOR_API_KEY") or None,
            regulator_timeout_s=_float("MDP_REGULATOR_TIMEOUT_S", 10.0),
            retry_base_s=_float("MDP_REPORTER_RETRY_BASE_S", 1.0),
            retries=_int("MDP_REPORTER_RETRIES", 5),
            retry_jitter=_float("MDP_REPORTER_RETRY_JITTER", 0.2),
            lease_s=_float("MDP_REPORTER_LEASE_S", 180.0),
            push_audience=os.environ.get("MDP_REPORTER_AUDIENCE") or None,
            push_service_account=os.environ.get("MDP_REPORTER_PUSH_SERVICE_ACCOUNT") or None,
            admin_emails=_list("MDP_REPORTER_ADMIN_EMAILS"),
            oidc_certs_url=os.environ.get("MDP_REPORTER_OIDC_CERTS_URL", GOOGLE_CERTS_URL),
            oidc_public_key_file=Path(key_file) if key_file else None,
            max_body_bytes=_int("MDP_REPORTER_MAX_BODY_BYTES", 65536),
            cache_refresh_s=_float("MDP_REPORTER_CACHE_REFRESH_S", 300.0),
            subscription=os.environ.get("MDP_REPORTER_SUBSCRIPTION") or None,
            pubsub_project=os.environ.get("PUBSUB_PROJECT_ID", project),
            max_in_flight=_int("MDP_REPORTER_MAX_IN_FLIGHT", 64),
            instance_id=os.environ.get("MDP_REPORTER_INSTANCE_ID") or _instance_id(),
        )

    @property
    def sqlite_ledger_path(self) -> Path:
        """The SQLite ledger file of the embedded default."""
        return self.ledger_path or self.base.home / "regulatory_ledger.sqlite3"

    @property
    def worst_case_processing_s(self) -> float:
        """Longest one event can take: every attempt timing out plus every backoff at its largest jitter."""
        attempts = self.retries + 1
        backoff: float = sum(self.retry_base_s * 2**i for i in range(self.retries)) * (1 + self.retry_jitter)
        return attempts * self.regulator_timeout_s + backoff

    def require_regulator(self) -> str:
        """The regulator URL, or a configuration error naming the variable."""
        if not self.regulator_url:
            raise ReporterConfigurationError("setting MDP_REGULATOR_URL is missing: the regulator's base URL")
        return self.regulator_url.rstrip("/")

    def require_push_auth(self) -> tuple[str, str]:
        """Audience and push service account, or a configuration error naming the variable."""
        if not self.push_audience:
            raise ReporterConfigurationError("setting MDP_REPORTER_AUDIENCE is missing: the push token's audience")
        if not self.push_service_account:
            raise ReporterConfigurationError(
                "setting MDP_REPORTER_PUSH_SERVICE_ACCOUNT is missing: the push subscription's service account"
            )
        return self.push_audience, self.push_service_account

    def check_lease(self) -> None:
        """A lease shorter than the worst case would let a live instance lose its claim mid-retry."""
        if self.lease_s <= self.worst_case_processing_s:
            raise ReporterConfigurationError(
                f"setting MDP_REPORTER_LEASE_S={self.lease_s:g} must exceed the worst-case processing time "
                f"{self.worst_case_processing_s:g}s (retries, timeout and backoff)"
            )

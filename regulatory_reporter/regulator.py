"""The regulator's API: one POST per submission, the event id as idempotency key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from regulatory_reporter.exceptions import RegulatorRejectedError, RegulatorUnavailableError

SUBMISSIONS_PATH = "/v1/submissions"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Acknowledgement:
    """The regulator accepted a submission (now, or earlier under the same idempotency key)."""

    reference: str
    duplicate: bool


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:500]
    return str(body)[:500]


def _reference(response: httpx.Response, event_id: str) -> str:
    try:
        body = response.json()
    except ValueError as error:
        raise RegulatorUnavailableError(event_id, f"HTTP {response.status_code} without a JSON body") from error
    reference = body.get("reference") if isinstance(body, dict) else None
    if not reference:
        raise RegulatorUnavailableError(event_id, f"HTTP {response.status_code} without a reference")
    return str(reference)


class RegulatorClient:
    """Submits to `<base_url>/v1/submissions`; translates every answer into an acknowledgement or an error."""

    def __init__(self, base_url: str, timeout_s: float, max_connections: int = 64, api_key: str | None = None) -> None:
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def submit(self, event_id: str, submission: Mapping[str, Any]) -> Acknowledgement:
        """One attempt: 2xx → acknowledged; 409 → acknowledged earlier; 4xx → rejected; 5xx, timeouts → transient."""
        try:
            response = self._client.post(
                SUBMISSIONS_PATH, json=dict(submission), headers={IDEMPOTENCY_HEADER: event_id}
            )
        except httpx.TimeoutException as error:
            raise RegulatorUnavailableError(event_id, f"timeout: {type(error).__name__}") from error
        except httpx.TransportError as error:
            raise RegulatorUnavailableError(event_id, f"connection error: {type(error).__name__}: {error}") from error
        status = response.status_code
        if 200 <= status < 300:
            body = response.json() if response.content else {}
            return Acknowledgement(
                _reference(response, event_id), bool(isinstance(body, dict) and body.get("duplicate"))
            )
        if status == httpx.codes.CONFLICT:
            # The regulator already holds a submission under this idempotency key: that one counts.
            return Acknowledgement(_reference(response, event_id), True)
        if status in (httpx.codes.REQUEST_TIMEOUT, httpx.codes.TOO_MANY_REQUESTS) or status >= 500:
            raise RegulatorUnavailableError(event_id, f"HTTP {status}: {_message(response)}")
        raise RegulatorRejectedError(event_id, status, _message(response))

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

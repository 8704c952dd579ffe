"""The push endpoint for Cloud Run: checks each request step by step, then hands the event to the reporter."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestrator.settings import Settings
from regulatory_reporter.auth import AuthFailure, OidcVerifier
from regulatory_reporter.events import parse_event, parse_push_envelope
from regulatory_reporter.exceptions import InvalidEventError, ReporterTransientError
from regulatory_reporter.logs import event_log, trace_name
from regulatory_reporter.runtime import open_reporter
from regulatory_reporter.service import Reporter
from regulatory_reporter.settings import ReporterSettings

ReporterFactory = Callable[[], AbstractContextManager[Reporter]]


class _BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _BodyTooLarge
    return bytes(body)


def create_app(settings: ReporterSettings, reporter_factory: ReporterFactory | None = None) -> Starlette:
    """The ASGI application; the reporter (ledger, regulator client, cache) opens at startup and closes at shutdown."""
    audience, push_account = settings.require_push_auth()
    verifier = OidcVerifier(audience, settings.oidc_certs_url, settings.oidc_public_key_file)
    admins = {*settings.admin_emails}
    project = settings.base.cloud.project if settings.base.cloud else settings.firestore_project
    factory = reporter_factory or (lambda: open_reporter(settings))
    holder: dict[str, Reporter] = {}

    def refuse(request: Request, status: int, reason: str, **fields: Any) -> JSONResponse:
        reporter = holder.get("reporter")
        if reporter is not None:
            reporter.metrics.rejected_requests.labels(str(status)).inc()
        event_log(
            logging.WARNING,
            f"request refused ({status}): {reason}",
            path=request.url.path,
            status=status,
            trace=trace_name(request.headers.get("x-cloud-trace-context"), project),
            **fields,
        )
        return JSONResponse({"error": reason}, status_code=status)

    async def push(request: Request) -> Response:
        trace = trace_name(request.headers.get("x-cloud-trace-context"), project)
        try:
            verifier.verify(request.headers.get("authorization"), {push_account})
        except AuthFailure as failure:
            return refuse(request, failure.status, failure.reason)
        try:
            body = await _read_body(request, settings.max_body_bytes)
        except _BodyTooLarge:
            return refuse(request, 413, f"request body is larger than {settings.max_body_bytes} bytes")
        try:
            message = parse_push_envelope(body)
            event = parse_event(message.data, message.message_id)
        except InvalidEventError as error:
            return refuse(request, 400, error.reason, message_id=error.message_id)
        reporter = holder["reporter"]
        try:
            outcome = await run_in_threadpool(reporter.handle, event, message.message_id, trace)
        except ReporterTransientError as error:
            # Not acknowledged: Pub/Sub delivers the message again once the ledger or the reference data answers.
            event_log(logging.ERROR, str(error), event_id=event.event_id, trace=trace)
            return JSONResponse({"error": str(error), "event_id": event.event_id}, status_code=503)
        # A non-2xx answer is a nack: Pub/Sub retries once the instance holding the claim has recorded the outcome.
        return JSONResponse(outcome.as_dict(), status_code=200 if outcome.acknowledge else 409)

    def admin_check(request: Request) -> JSONResponse | None:
        try:
            verifier.verify(request.headers.get("authorization"), admins)
        except AuthFailure as failure:
            return refuse(request, failure.status, failure.reason)
        return None

    async def refresh_cache(request: Request) -> Response:
        if (refused := admin_check(request)) is not None:
            return refused
        cache = holder["reporter"].cache
        ok = await run_in_threadpool(cache.refresh)
        return JSONResponse({"refreshed": ok, **_jsonable(cache.status())}, status_code=200 if ok else 503)

    async def cache_status(request: Request) -> Response:
        if (refused := admin_check(request)) is not None:
            return refused
        return JSONResponse(_jsonable(holder["reporter"].cache.status()))

    async def healthz(request: Request) -> Response:
        del request
        reporter = holder.get("reporter")
        loaded = reporter is not None and reporter.cache.data.loaded_at is not None
        return JSONResponse(
            {"status": "ok" if loaded else "starting", "reference_loaded": loaded}, status_code=200 if loaded else 503
        )

    async def metrics(request: Request) -> Response:
        del request
        reporter = holder["reporter"]
        for dimension, count in reporter.cache.data.counts().items():
            reporter.metrics.cache_entries.labels(dimension).set(count)
        return Response(generate_latest(reporter.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        del app
        with factory() as reporter:
            holder["reporter"] = reporter
            event_log(logging.INFO, "reporter started", instance=reporter.owner, reference=reporter.cache.status())
            yield
            holder.pop("reporter", None)

    return Starlette(
        routes=[
            Route("/", push, methods=["POST"]),
            Route("/push", push, methods=["POST"]),
            Route("/admin/refresh-cache", refresh_cache, methods=["POST"]),
            Route("/admin/cache-status", cache_status, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            # Cloud Run's front end may answer paths ending in "z" itself; probes there use /health.
            Route("/health", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def create_app_from_environment() -> Starlette:
    """The application of one worker process of `mdp reporter serve --workers N`, configured from the environment.

    Each process is its own instance in ledger claims, so a fixed MDP_REPORTER_INSTANCE_ID gets the process id.
    """
    from regulatory_reporter.logs import configure_reporter_logging

    configure_reporter_logging()
    settings = ReporterSettings.from_env(Settings.from_env())
    if os.environ.get("MDP_REPORTER_INSTANCE_ID"):
        settings = dataclasses.replace(settings, instance_id=f"{settings.instance_id}-{os.getpid()}")
    return create_app(settings)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}

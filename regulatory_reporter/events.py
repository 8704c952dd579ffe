"""Pure functions: a Pub/Sub message to a reportable event, and an enriched event to a regulator submission."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema

from orchestrator.identity import event_id as compute_event_id
from orchestrator.identity import trade_id as compute_trade_id
from regulatory_reporter.exceptions import InvalidEventError, SubmissionInvalidError
from regulatory_reporter.reference import ReferenceData

SUBMISSION_SCHEMA_VERSION = "1.0"
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in `regulatory_reporter/schemas/`."""
    text = (SCHEMAS_DIR / f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(name))


@functools.cache
def _compiled_check(name: str) -> Any:
    # Generated Python code: about ten times faster than walking the schema, which is what every push paid. It
    # only answers valid or not; jsonschema, the reference implementation, still words the problems. Formats are
    # off in both, and defaults are not filled in, so the compiled check neither rejects nor changes more.
    return fastjsonschema.compile(load_schema(name), use_default=False, use_formats=False)


def schema_problems(name: str, document: Any) -> list[str]:
    """What makes `document` break schema `name`, one line per problem (none when it is valid)."""
    try:
        _compiled_check(name)(document)
    except fastjsonschema.JsonSchemaException:
        pass
    else:
        return []
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}" for error in errors]


@dataclass(frozen=True)
class PubSubMessage:
    """One Pub/Sub message as a push request or a pull delivers it."""

    message_id: str
    data: bytes
    publish_time: dt.datetime | None
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class ReportableEvent:
    """One trade event that must reach the regulator, with its deterministic identity."""

    event_id: str
    trade_id: str
    event_at: dt.datetime
    fields: Mapping[str, Any]

    @property
    def event_type(self) -> str:
        """NEW, AMEND or CANCEL."""
        return str(self.fields["event_type"])


def _timestamp(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed.astimezone(dt.UTC)


def parse_push_envelope(body: bytes) -> PubSubMessage:
    """The message inside a Pub/Sub push request body; InvalidEventError says what is wrong."""
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEventError(f"request body is not JSON ({error})") from error
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise InvalidEventError("request body is not a Pub/Sub push envelope: no 'message' object")
    message_id = str(message.get("messageId") or message.get("message_id") or "")
    if not message_id:
        raise InvalidEventError("Pub/Sub message has no messageId")
    try:
        data = base64.b64decode(str(message.get("data", "")), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidEventError("message data is not base64", message_id) from error
    publish_time: dt.datetime | None = None
    raw_time = message.get("publishTime") or message.get("publish_time")
    if raw_time:
        try:
            publish_time = _timestamp(str(raw_time))
        except ValueError as error:
            raise InvalidEventError(f"publishTime {raw_time!r} is not a timestamp", message_id) from error
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InvalidEventError("message attributes are not an object", message_id)
    return PubSubMessage(message_id, data, publish_time, {str(k): str(v) for k, v in attributes.items()})


def parse_event(data: bytes, message_id: str | None = None) -> ReportableEvent:
    """A reportable event from message data, checked against `event.schema.json`."""
    try:
        fields = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEventError(f"message data is not JSON ({error})", message_id) from error
    problems = schema_problems("event", fields)
    if problems:
        raise InvalidEventError(f"event breaks event.schema.json: {'; '.join(problems[:5])}", message_id)
    try:
        event_at = _timestamp(fields["event_at"])
    except ValueError as error:
        raise InvalidEventError(f"event_at {fields['event_at']!r} is not a UTC timestamp", message_id) from error
    return ReportableEvent(
        event_id=compute_event_id(
            fields["domain"], fields["source_system"], fields["source_trade_id"], fields["source_event_id"]
        ),
        trade_id=compute_trade_id(fields["domain"], fields["source_system"], fields["source_trade_id"]),
        event_at=event_at,
        fields=fields,
    )


def missing_reference(event: ReportableEvent, reference: ReferenceData) -> list[str]:
    """The reference keys of an event the cache does not know, as `table.key=value`."""
    fields = event.fields
    missing = []
    if fields["trader_id"] not in reference.traders:
        missing.append(f"dim_trader.trader_id={fields['trader_id']}")
    if fields["isin"] not in reference.instruments:
        missing.append(f"dim_instrument.isin={fields['isin']}")
    if fields["counterparty_lei"] not in reference.counterparties:
        missing.append(f"dim_counterparty.counterparty_lei={fields['counterparty_lei']}")
    return missing


def build_submission(event: ReportableEvent, reference: ReferenceData) -> dict[str, Any]:
    """The regulator submission of an event enriched from the reference data (check it before sending)."""
    fields = event.fields
    trader = reference.traders[fields["trader_id"]]
    instrument = reference.instruments[fields["isin"]]
    counterparty = reference.counterparties[fields["counterparty_lei"]]
    return {
        "schema_version": SUBMISSION_SCHEMA_VERSION,
        "event_id": event.event_id,
        "trade_id": event.trade_id,
        "event_type": event.event_type,
        "event_at": event.event_at.isoformat().replace("+00:00", "Z"),
        "trade": {
            "source_system": fields["source_system"],
            "source_trade_id": fields["source_trade_id"],
            "side": fields["side"],
            "quantity": fields["quantity"],
            "price": fields["price"],
            "currency": fields["currency"],
            "venue_mic": fields["venue_mic"],
        },
        "trader": {"trader_id": fields["trader_id"], "name": trader.name, "desk": trader.desk},
        "instrument": {
            "isin": fields["isin"],
            "name": instrument.name,
            "asset_class": instrument.asset_class,
            "currency": instrument.currency,
        },
        "counterparty": {
            "lei": fields["counterparty_lei"],
            "name": counterparty.name,
            "country_code": counterparty.country_code,
        },
    }


def check_submission(event_id: str, submission: Mapping[str, Any]) -> None:
    """Raise SubmissionInvalidError unless the submission follows `submission.schema.json`."""
    problems = schema_problems("submission", dict(submission))
    if problems:
        raise SubmissionInvalidError(event_id, problems)

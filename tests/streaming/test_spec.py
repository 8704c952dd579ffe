"""Stream specs: the shipped ones load, broken ones are named by file, line and YAML path, `mdp specs validate`
checks both kinds and the batch loader ignores stream specs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.specs import load_specs
from streaming.exceptions import StreamSpecError, UnknownStreamError
from streaming.spec import check_stream_specs, find_stream_spec, load_stream_specs

REPO = Path(__file__).resolve().parents[2]
MDP = str(Path(sys.executable).with_name("mdp"))


@pytest.fixture
def specs_dir(tmp_path: Path) -> Path:
    """A copy of the shipped specs to break."""
    copy = tmp_path / "source_specs"
    shutil.copytree(REPO / "source_specs", copy)
    return copy


def _write_stream(specs_dir: Path, name: str, text: str) -> Path:
    path = specs_dir / "streaming" / f"{name}.yaml"
    path.write_text(text)
    return path


def _rfq_text(specs_dir: Path) -> str:
    return (specs_dir / "streaming" / "rfq.yaml").read_text()


def test_the_rfq_stream_spec_loads() -> None:
    spec = find_stream_spec(REPO / "source_specs", "rfq")
    assert spec.kafka_topics == ("markets.rfq.events.v1",)
    assert (spec.event_id_field, spec.sequence_field, spec.event_time_field) == ("event_id", "sequence", "event_at")
    assert spec.ordering_key_field is None
    assert spec.raw_table == "rfq_stream"


def test_the_batch_loader_ignores_stream_specs() -> None:
    assert "rfq" not in {spec.name for spec in load_specs(REPO / "source_specs")}


def test_an_unknown_stream_names_the_known_ones() -> None:
    with pytest.raises(UnknownStreamError, match=r"stream=quotes: .* known streams: rfq"):
        find_stream_spec(REPO / "source_specs", "quotes")


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        pytest.param(("  sequence: sequence\n", ""), "fields", "'sequence' is a required property", id="no-sequence"),
        pytest.param(
            ("format: json", "format: avro"), "payload", "'avro' is a required property", id="avro-without-schemas"
        ),
        pytest.param(
            ("dead_letter_topic: mdp-rfq-events-dead-letter", "dead_letter_topic: mdp-rfq-events"),
            "pubsub.dead_letter_topic",
            "must differ from the topic",
            id="dead-letter-is-topic",
        ),
        pytest.param(
            ("topic: mdp-rfq-events\n", "topic: goog-rfq\n"), "pubsub.topic", "does not match", id="reserved-topic"
        ),
        pytest.param(("name: rfq", "name: rfq_quotes"), "name", "must match the file name", id="name-mismatch"),
        pytest.param(
            ("  sequence: sequence", "  sequence: event_id"), "fields.sequence", "must differ", id="sequence-is-id"
        ),
    ],
)
def test_broken_specs_are_reported_with_their_location(
    specs_dir: Path, change: tuple[str, str], path: str, message: str
) -> None:
    text = _rfq_text(specs_dir)
    assert change[0] in text
    _write_stream(specs_dir, "rfq", text.replace(change[0], change[1], 1))
    specs, problems = check_stream_specs(specs_dir)
    assert specs == []
    assert [(p, message in m) for _, p, m in problems] == [(path, True)], problems
    assert problems[0][0].startswith(str(specs_dir / "streaming" / "rfq.yaml"))


def test_two_streams_reading_one_kafka_topic_are_refused(specs_dir: Path) -> None:
    text = (
        _rfq_text(specs_dir).replace("name: rfq", "name: rfq_copy").replace("topic: mdp-rfq-events\n", "topic: x-rfq\n")
    )
    _write_stream(specs_dir, "rfq_copy", text)
    with pytest.raises(StreamSpecError, match=r"'markets\.rfq\.events\.v1' is also used by .*rfq\.yaml"):
        load_stream_specs(specs_dir)


def _validate(specs_dir: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MDP, "specs", "validate", "--json", *paths],
        env={**os.environ, "MDP_SPECS_DIR": str(specs_dir)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_specs_validate_checks_stream_specs_too(specs_dir: Path) -> None:
    completed = _validate(specs_dir)
    assert completed.returncode == 0, completed.stderr
    assert "rfq" in json.loads(completed.stdout)["valid"]

    _write_stream(specs_dir, "rfq", _rfq_text(specs_dir).replace("  event_time: event_at\n", ""))
    completed = _validate(specs_dir)
    assert completed.returncode == 1
    errors = json.loads(completed.stdout)["errors"]
    assert [(e["path"], e["message"]) for e in errors] == [("fields", "'event_time' is a required property")]
    assert "murex_trades" in json.loads(completed.stdout)["valid"]


def test_specs_validate_of_one_stream_spec_checks_only_it(specs_dir: Path) -> None:
    completed = _validate(specs_dir, str(specs_dir / "streaming" / "rfq.yaml"))
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {"valid": ["rfq"], "errors": []}

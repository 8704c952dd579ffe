"""`mdp watch` in the cloud shape: fake-gcs-server notifies Pub/Sub (emulator) of each landed object."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import IO, Any

import google.cloud.pubsub_v1 as pubsub_v1  # type: ignore[import-untyped]
import pytest

from orchestrator.backends import open_buckets, open_warehouse
from orchestrator.batch.lock import cycle_lock
from orchestrator.generator import Faults, generate_source_file
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, find_spec
from orchestrator.storage.gcs import GcsStore
from tests import services
from tests.orchestrator.watch.fake_gcs import notifying_fake_gcs

MDP = str(Path(sys.executable).with_name("mdp"))
DATE = dt.date(2026, 11, 20)
ROLES = ("landing", "staging", "failed", "archive", "extracts")


@pytest.fixture
def notification_topic() -> Iterator[tuple[str, str]]:
    """A fresh topic and pull subscription on the Pub/Sub emulator: (topic id, subscription id)."""
    services.pubsub_emulator_host()
    project = services.pubsub_project()
    name = f"landing-events-{uuid.uuid4().hex[:12]}"
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(project, name)
    subscription_path = subscriber.subscription_path(project, name + "-watch")
    publisher.create_topic(name=topic_path)
    subscriber.create_subscription(name=subscription_path, topic=topic_path, ack_deadline_seconds=60)
    try:
        yield name, name + "-watch"
    finally:
        subscriber.delete_subscription(subscription=subscription_path)
        publisher.delete_topic(topic=topic_path)
        subscriber.close()


def _next_outcome(stream: IO[str]) -> dict[str, Any]:
    line = stream.readline()
    assert line, "mdp watch ended before reporting the next notification"
    outcome: dict[str, Any] = json.loads(line)
    return outcome


def test_watch_settles_notified_objects_holds_early_control_files_and_acks_only_settled_ones(
    specs: list[SourceSpec],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    notification_topic: tuple[str, str],
) -> None:
    topic, subscription = notification_topic
    run = uuid.uuid4().hex[:8]
    buckets_by_role = {role: f"mdp-watch-{run}-{role}" for role in ROLES}
    with notifying_fake_gcs(
        tmp_path / "gcs", services.pubsub_emulator_host(), services.pubsub_project(), topic, buckets_by_role["landing"]
    ) as storage_url:
        environment = {
            **os.environ,
            "MDP_ENV": "emulator",
            "MDP_HOME": str(tmp_path / "home"),
            "STORAGE_EMULATOR_HOST": storage_url,
            "BIGQUERY_EMULATOR_HOST": services.bigquery_emulator_host(),
            "MDP_WATCH_SUBSCRIPTION": subscription,
            "MDP_WATCH_PROJECT": services.pubsub_project(),
            "MDP_WATCH_RETRY_SECONDS": "1",
        } | {f"MDP_BUCKET_{role.upper()}": name for role, name in buckets_by_role.items()}
        for key, value in environment.items():
            if key.startswith("MDP_BUCKET_") or key == "STORAGE_EMULATOR_HOST":
                monkeypatch.setenv(key, value)
        settings = Settings.from_env(tmp_path / "home", "emulator")
        buckets = open_buckets(settings)
        for role in ROLES:
            store = buckets.by_name(role)
            assert isinstance(store, GcsStore)
            store.ensure_bucket()
        out = tmp_path / "out"
        # Fresh names and content per run: the emulator's control tables outlive a single test.
        murex = generate_source_file(
            find_spec(specs, "murex_trades"),
            30,
            DATE,
            out,
            seed=int(run, 16),
            faults=Faults(control_count_delta=2, seq=f"w{run}"),
        )
        assert murex.control_path is not None
        stray = out / "inbound" / f"unknown_feed_{run}.csv"
        stray.parent.mkdir(parents=True)
        stray.write_text("a,b\n1,2\n")

        def land(path: Path) -> None:
            buckets.landing.upload_file(path, path.relative_to(out).as_posix())

        command = [MDP, "watch", "--max-messages", "3", "--timeout", "300", "--json"]
        with subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as process:
            assert process.stdout is not None
            # One object at a time: Pub/Sub does not promise order, and this case is about a control file first.
            land(murex.control_path)
            held = _next_outcome(process.stdout)
            land(murex.data_path)
            failed = _next_outcome(process.stdout)
            land(stray)
            unmatched = _next_outcome(process.stdout)
            _, stderr = process.communicate(timeout=60)

        assert process.returncode == 1, stderr  # as `mdp run`: some files failed
        assert (held["key"], held["status"]) == (murex.control_path.relative_to(out).as_posix(), "ignored")
        assert (failed["data_key"], failed["status"]) == (murex.landing_key, "failed")
        assert any(reason.startswith("control_row_count") for reason in failed["reasons"])
        assert (unmatched["key"], unmatched["status"]) == (stray.relative_to(out).as_posix(), "unmatched")
        assert list(buckets.landing.list()) == []
        failed_keys = {info.key for info in buckets.failed.list()}
        assert {murex.landing_key, murex.landing_key + ".error.json"} <= failed_keys
        file_id = hashlib.sha256(murex.data_path.read_bytes()).hexdigest()
        with closing(open_warehouse(settings)) as warehouse:
            recorded = warehouse.query(
                f"select outcome, run_id from {warehouse.table('control', 'ingested_files')} where file_id = @file_id",
                {"file_id": file_id},
            )
        assert [row["outcome"] for row in recorded] == ["failed"]
        assert str(recorded[0]["run_id"]).startswith("watch-")

        # While a cycle holds the lock, a notification is not acknowledged; it comes back and is settled later.
        late = out / "inbound" / f"late_feed_{run}.csv"
        late.write_text("c,d\n3,4\n")
        bounded = [MDP, "watch", "--max-messages", "1", "--timeout", "120", "--json"]
        with cycle_lock(buckets.staging, "a-cycle-in-progress", ttl_minutes=180):
            land(late)
            busy = subprocess.run(bounded, env=environment, capture_output=True, text=True, check=False)
        redelivered = subprocess.run(bounded, env=environment, capture_output=True, text=True, check=False)

        assert (busy.returncode, [json.loads(line)["status"] for line in busy.stdout.splitlines()]) == (0, ["busy"])
        assert redelivered.returncode == 1, redelivered.stderr
        assert [(o["key"], o["status"]) for o in map(json.loads, redelivered.stdout.splitlines())] == [
            (late.relative_to(out).as_posix(), "unmatched")
        ]

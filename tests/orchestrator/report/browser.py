"""Headless Chromium driven over the DevTools protocol: load a page, collect console errors, take a screenshot."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.sync.client import ClientConnection, connect

# Safety bounds only: a healthy run finishes far sooner; nothing asserts on elapsed time.
_STARTUP_SECONDS = 60
_MESSAGE_SECONDS = 120


class BrowserError(RuntimeError):
    """Chromium did not start or did not answer."""


@dataclass
class PageVisit:
    """What the browser reported while loading and rendering one page."""

    console_errors: list[str] = field(default_factory=list)
    evaluated: Any = None


class DevToolsSession:
    """One page target: send commands, keep every event."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Run a command and return its result; events arriving meanwhile are kept."""
        command_id = next(self._ids)
        self._connection.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._connection.recv(timeout=_MESSAGE_SECONDS))
            if message.get("id") == command_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result
            self.events.append(message)

    def wait_for(self, method: str) -> dict[str, Any]:
        """The first event of this kind, kept or still to come."""
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            message: dict[str, Any] = json.loads(self._connection.recv(timeout=_MESSAGE_SECONDS))
            self.events.append(message)
            if message.get("method") == method:
                return message

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors seen so far."""
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                errors.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append(str(details.get("exception", {}).get("description", details.get("text"))))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(f"{params['entry']['source']}: {params['entry']['text']}")
        return errors


def _wait_for_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"chromium exited with {process.returncode} before opening DevTools")
        if port_file.exists() and (lines := port_file.read_text().splitlines()):
            return int(lines[0])
        time.sleep(0.1)
    raise BrowserError("chromium did not open its DevTools port")


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[DevToolsSession]:
    """A headless Chromium with a blank page, over a private profile; stopped on exit."""
    executable = shutil.which("chromium")
    if executable is None:
        raise BrowserError("chromium is not installed: run scripts/services/install_debian_packages.sh chromium")
    profile = Path(tempfile.mkdtemp(prefix="mdp-chromium-"))
    # Its own process group: Chromium's helper processes write to the profile until the whole group is gone.
    process = subprocess.Popen(
        [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port = _wait_for_port(profile, process)
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=_MESSAGE_SECONDS).json()
        page = next(target for target in targets if target["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=_STARTUP_SECONDS) as connection:
            yield DevToolsSession(connection)
    finally:
        _stop_group(process)
        _remove_profile(profile)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    # What is left of the group (helpers, or a main process that ignored SIGTERM) goes now.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _remove_profile(profile: Path) -> None:
    # A helper killed a moment ago may still be closing a file in the profile.
    for _ in range(50):
        try:
            shutil.rmtree(profile)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(profile)


def visit(url: str, screenshot: Path, ready_expression: str, width: int = 1400) -> PageVisit:
    """Load the page, evaluate `ready_expression` (may return a promise), screenshot the whole page as PNG."""
    with chromium(width=width) as session:
        for domain in ("Runtime", "Log", "Page"):
            session.send(f"{domain}.enable")
        session.send("Page.navigate", url=url)
        session.wait_for("Page.loadEventFired")
        evaluated = session.send("Runtime.evaluate", expression=ready_expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in evaluated:
            raise BrowserError(f"evaluating the ready check failed: {evaluated['exceptionDetails']}")
        size = session.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = session.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        return PageVisit(console_errors=session.console_errors(), evaluated=evaluated["result"].get("value"))


def png_colours(data: bytes, step: int = 7) -> set[tuple[int, ...]]:
    """Distinct pixel values of an 8-bit RGB or RGBA PNG, sampling every `step`th pixel of every `step`th row."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunk = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if chunk == b"IHDR":
            header = body
        elif chunk == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    if depth != 8 or colour_type not in (2, 6):
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour_type}")
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, stride + 1)
    previous = np.zeros(stride, dtype=np.uint8)
    colours: set[tuple[int, ...]] = set()
    for row in range(height):
        kind, line = int(raw[row, 0]), raw[row, 1:].copy()
        if kind == 1:  # sub: a running sum per channel
            line = (np.cumsum(line.reshape(width, channels).astype(np.uint32), axis=0) & 0xFF).astype(np.uint8).ravel()
        elif kind == 2:  # up
            line = line + previous
        elif kind in (3, 4):  # average and Paeth depend on the decoded left byte: byte by byte
            line = np.frombuffer(_unfilter_bytewise(kind, bytes(line), bytes(previous), channels), dtype=np.uint8)
        if row % step == 0:
            pixels = line.reshape(width, channels)[::step, :3]
            colours.update(map(tuple, pixels.tolist()))
        previous = line
    return colours


def _unfilter_bytewise(kind: int, filtered: bytes, previous: bytes, channels: int) -> bytes:
    line = bytearray(filtered)
    for index in range(len(line)):
        left = line[index - channels] if index >= channels else 0
        up = previous[index]
        if kind == 3:
            line[index] = (line[index] + (left + up) // 2) & 0xFF
            continue
        upper_left = previous[index - channels] if index >= channels else 0
        estimate = left + up - upper_left
        distances = (abs(estimate - left), abs(estimate - up), abs(estimate - upper_left))
        predictor = (left, up, upper_left)[distances.index(min(distances))]
        line[index] = (line[index] + predictor) & 0xFF
    return bytes(line)

"""Delivery fixtures: the vendor's SFTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sshd import SftpServer, running_sshd


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[SftpServer]:
    """A private OpenSSH server on 127.0.0.1 standing in for the vendor; stopped after the test."""
    with running_sshd(tmp_path / "sshd") as server:
        yield server

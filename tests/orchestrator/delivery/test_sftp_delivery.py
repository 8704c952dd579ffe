"""`mdp deliver` to a real OpenSSH server: verified uploads, manifest last, reruns, drops and host-key pinning."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.alerts import Alert
from orchestrator.delivery.exceptions import (
    DeliveryFailedError,
    DeliverySettingError,
    ExtractNotFoundError,
    VendorUnavailableError,
)
from orchestrator.delivery.service import deliver_extract, list_deliveries
from orchestrator.delivery.settings import DeliverySettings, SftpSettings, load_delivery_settings
from orchestrator.settings import Settings
from tests.orchestrator.delivery.support import EXTRACT_DATE, build_extract, sftp_environment
from tests.sshd import SftpServer, new_key_pair, public_key_text

MDP = str(Path(sys.executable).with_name("mdp"))
DATE = EXTRACT_DATE.isoformat()


def _mdp(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MDP, *arguments], env=environment, capture_output=True, text=True, check=False)


def _vendor_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def _extract_files(settings: Settings) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (settings.home / "extracts" / DATE).iterdir()}


def _renamed_to(server: SftpServer) -> list[str]:
    """Final names the server saw files renamed to, in order."""
    return [line.rsplit("/", 1)[-1].rstrip('"') for line in server.sftp_log() if line.startswith("posix-rename")]


def test_deliver_sends_data_then_manifest_and_a_rerun_sends_nothing(
    settings: Settings, sftp_server: SftpServer
) -> None:
    extract = build_extract(settings, rows=300)
    environment = sftp_environment(sftp_server, settings.home)
    inbound = sftp_server.root / "inbound"

    first = _mdp(environment, "deliver", "--date", DATE, "--json")

    assert first.returncode == 0, first.stderr
    data_name, manifest_name = extract.data_key.rsplit("/", 1)[-1], extract.manifest_key.rsplit("/", 1)[-1]
    report = json.loads(first.stdout)
    assert [(f["file"], f["role"], f["status"]) for f in report["files"]] == [
        (data_name, "data", "sent"),
        (manifest_name, "manifest", "sent"),
    ]
    assert _vendor_files(inbound) == _extract_files(settings)
    assert _renamed_to(sftp_server) == [data_name, manifest_name]
    writes = [line for line in sftp_server.sftp_log() if line.startswith("open") and "WRITE" in line]
    assert len(writes) == 2
    assert all(".partial" in line for line in writes)  # nothing is written under a final name

    again = _mdp(environment, "deliver", "--date", DATE, "--json")

    assert again.returncode == 0, again.stderr
    assert [f["status"] for f in json.loads(again.stdout)["files"]] == ["present", "present"]
    assert [line for line in sftp_server.sftp_log() if line.startswith("open") and "WRITE" in line] == writes
    listed = _mdp(environment, "deliveries", "list", "--date", DATE, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted((r["file_name"], r["status"]) for r in rows) == sorted(
        [(data_name, "sent"), (manifest_name, "sent"), (data_name, "present"), (manifest_name, "present")]
    )
    assert {r["target"] for r in rows} == {f"sftp://{sftp_server.user}@127.0.0.1:{sftp_server.port}{inbound}"}


def _delivery_settings(server: SftpServer) -> DeliverySettings:
    remote = server.root / "inbound"
    remote.mkdir(exist_ok=True)
    sftp = SftpSettings(
        host=server.host,
        port=server.port,
        user=server.user,
        key_path=server.client_key,
        host_key=server.host_key,
        remote_dir=str(remote),
    )
    return DeliverySettings(target="sftp", sftp=sftp)


def test_a_connection_dropped_mid_upload_shows_nothing_final_and_a_rerun_completes(
    settings: Settings, sftp_server: SftpServer
) -> None:
    extract = build_extract(settings, rows=4000)
    data_name = extract.data_key.rsplit("/", 1)[-1]
    delivery = _delivery_settings(sftp_server)
    inbound = sftp_server.root / "inbound"
    dropped: list[int] = []

    def drop_a_third_of_the_way(name: str, sent: int, total: int) -> None:
        if name == data_name and not dropped and sent >= total // 3:
            dropped.append(sftp_server.drop_connections())

    with pytest.raises(DeliveryFailedError) as failure:
        deliver_extract(settings, EXTRACT_DATE, delivery=delivery, progress=drop_a_third_of_the_way)

    assert len(dropped) == 1
    assert dropped[0] > 0
    assert isinstance(failure.value.cause, VendorUnavailableError)
    assert failure.value.file == data_name
    assert f"rerun 'mdp deliver --date {DATE}'" in str(failure.value)
    leftovers = _vendor_files(inbound)
    # Under the final names the vendor sees nothing; at most the cut-off upload under its temporary name.
    assert all(name.startswith(f".{data_name}.") and name.endswith(".partial") for name in leftovers)
    assert all(len(partial) < len(_extract_files(settings)[data_name]) for partial in leftovers.values())

    rerun = deliver_extract(settings, EXTRACT_DATE, delivery=delivery)

    assert [f.status for f in rerun.files] == ["sent", "sent"]
    assert _vendor_files(inbound) == _extract_files(settings)  # the partial upload is gone
    attempts = list_deliveries(settings, EXTRACT_DATE)
    assert sorted((r["file_name"], r["status"]) for r in attempts) == sorted(
        [(data_name, "failed"), (data_name, "sent"), (rerun.files[1].name, "sent")]
    )
    failed = next(r for r in attempts if r["status"] == "failed")
    assert "VendorUnavailableError" in failed["reason"]


def test_a_host_key_other_than_the_pinned_one_is_refused(
    settings: Settings, sftp_server: SftpServer, tmp_path: Path
) -> None:
    build_extract(settings, rows=10)
    impostor = public_key_text(new_key_pair(tmp_path / "other", "impostor_host_key"))
    environment = sftp_environment(sftp_server, settings.home, MDP_DELIVERY_SFTP_HOST_KEY=impostor)

    refused = _mdp(environment, "deliver", "--date", DATE)

    assert refused.returncode == 2
    assert refused.stdout == ""
    # The job's log: the alert line for on-call, then the error on one line.
    alert, message = refused.stderr.strip().splitlines()
    assert json.loads(alert)["alert"] == Alert.VENDOR_EXTRACT_FAILED
    assert json.loads(alert)["message"].endswith(message)
    assert message.startswith("HostKeyMismatchError: host=127.0.0.1:")
    assert "not the pinned ssh-ed25519" in message
    assert "nothing was sent" in message
    assert list((sftp_server.root / "inbound").iterdir()) == []
    assert sftp_server.sftp_log() == []  # no SFTP session was ever opened
    attempts = list_deliveries(settings, EXTRACT_DATE)
    assert [(r["role"], r["status"]) for r in attempts] == [("session", "failed")]
    assert "HostKeyMismatchError" in attempts[0]["reason"]


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        pytest.param("MDP_DELIVERY_SFTP_HOST", "'delivery.sftp.host'", id="host"),
        pytest.param("MDP_DELIVERY_SFTP_HOST_KEY", "'delivery.sftp.host_key'", id="pinned-host-key"),
        pytest.param("MDP_DELIVERY_SFTP_KEY_PATH", "'delivery.sftp.key_path'", id="key-path"),
    ],
)
def test_a_missing_setting_fails_with_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str, named: str
) -> None:
    values = {
        "MDP_DELIVERY_TARGET": "sftp",
        "MDP_DELIVERY_SFTP_HOST": "sftp.vendor.example",
        "MDP_DELIVERY_SFTP_USER": "markets",
        "MDP_DELIVERY_SFTP_KEY_PATH": "/secrets/id_ed25519",
        "MDP_DELIVERY_SFTP_HOST_KEY": "ssh-ed25519 AAAA",
        "MDP_DELIVERY_SFTP_REMOTE_DIR": "/inbound",
    }
    for name, value in values.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing, raising=False)
    config = tmp_path / "environments"
    config.mkdir()
    (config / "local.yaml").write_text("backend: local\n")

    with pytest.raises(DeliverySettingError) as failure:
        load_delivery_settings("local", tmp_path / "home", config)

    message = str(failure.value)
    assert "\n" not in message
    assert named in message
    assert missing in message


def test_deliver_without_an_extract_says_what_to_run_first_and_records_the_attempt(
    settings: Settings, tmp_path: Path
) -> None:
    delivery = DeliverySettings(target="folder", folder=tmp_path / "vendor")

    with pytest.raises(ExtractNotFoundError, match=r"no extract manifest .* Run 'mdp extract --date 2026-11-21' first"):
        deliver_extract(settings, dt.date(2026, 11, 21), delivery=delivery)

    attempts = list_deliveries(settings, dt.date(2026, 11, 21))
    assert [(r["role"], r["status"], r["file_name"]) for r in attempts] == [("session", "failed", None)]
    assert not (tmp_path / "vendor").exists() or list((tmp_path / "vendor").iterdir()) == []

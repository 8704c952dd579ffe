"""Deliver a day's extract to the vendor: data files first, manifests last, nothing the vendor already has."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from orchestrator.backends import open_buckets, open_warehouse
from orchestrator.delivery.exceptions import (
    DeliveryFailedError,
    ExtractInconsistentError,
    ExtractNotFoundError,
)
from orchestrator.delivery.settings import DeliverySettings, load_delivery_settings
from orchestrator.delivery.targets import LocalFile, ObjectStoreTarget, TransferProgress, VendorTarget
from orchestrator.exceptions import MdpError
from orchestrator.settings import Settings
from orchestrator.specs import load_specs
from orchestrator.storage import LocalFolderStore, ObjectStore, read_bytes
from orchestrator.warehouse.base import Warehouse

log = logging.getLogger("mdp.deliver")

FileStatus = Literal["sent", "present", "failed"]
Role = Literal["data", "manifest", "session"]
# Called with (file name, bytes sent so far, total bytes).
Progress = Callable[[str, int, int], None]

MANIFEST_SUFFIX = ".manifest.json"
DELIVERIES_TABLE = "extract_deliveries"


@dataclass
class FileDelivery:
    """What one attempt did with one file."""

    name: str
    role: Role
    extract_key: str
    size_bytes: int | None = None
    sha256: str | None = None
    status: FileStatus = "failed"
    reason: str | None = None
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape of one file."""
        return {
            "file": self.name,
            "role": self.role,
            "status": self.status,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "reason": self.reason,
        }


@dataclass
class DeliveryReport:
    """One `mdp deliver` attempt."""

    delivery_id: str
    date: dt.date
    target: str
    files: list[FileDelivery] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape."""
        return {
            "delivery_id": self.delivery_id,
            "date": self.date.isoformat(),
            "target": self.target,
            "files": [f.as_dict() for f in self.files],
        }


@dataclass(frozen=True)
class _Pair:
    """A data file of the extract and its manifest, as local copies."""

    data: LocalFile
    data_key: str
    manifest: LocalFile
    manifest_key: str


def _extract_pairs(extracts: ObjectStore, date: dt.date, stack: ExitStack, scratch: Path) -> list[_Pair]:
    """Every (data, manifest) of the date, each data file checked against the SHA-256 its manifest states."""
    folder = f"{date.isoformat()}/"
    manifests = [info.key for info in extracts.list(folder) if info.key.endswith(MANIFEST_SUFFIX)]
    if not manifests:
        raise ExtractNotFoundError(
            f"date={date.isoformat()}: no extract manifest under {extracts.name}/{folder}; nothing was sent. "
            f"Run 'mdp extract --date {date.isoformat()}' first"
        )
    pairs = []
    for manifest_key in manifests:
        raw = read_bytes(extracts, manifest_key)
        try:
            stated = json.loads(raw)
            data_key = folder + str(stated["file"])
            stated_sha256 = str(stated["sha256"])
        except (ValueError, KeyError, TypeError) as error:
            raise ExtractInconsistentError(
                f"file={manifest_key}: not a readable extract manifest ({error}); nothing was sent. "
                f"Regenerate it with 'mdp extract --date {date.isoformat()}'"
            ) from error
        if extracts.stat(data_key) is None:
            raise ExtractInconsistentError(
                f"file={manifest_key}: names {data_key}, which is missing; nothing was sent. "
                f"Regenerate with 'mdp extract --date {date.isoformat()}'"
            )
        data_path = stack.enter_context(extracts.local_copy(data_key))
        data = LocalFile.of(data_path, PurePosixPath(data_key).name)
        if data.sha256 != stated_sha256:
            raise ExtractInconsistentError(
                f"file={data_key}: SHA-256 {data.sha256} differs from its manifest's {stated_sha256} (rewritten "
                f"while delivering?); nothing was sent. Rerun 'mdp deliver --date {date.isoformat()}'"
            )
        manifest_path = scratch / PurePosixPath(manifest_key).name
        manifest_path.write_bytes(raw)
        manifest = LocalFile.of(manifest_path, manifest_path.name)
        pairs.append(_Pair(data, data_key, manifest, manifest_key))
    return pairs


def _recorded(warehouse: Warehouse, target: str) -> dict[tuple[str, str], int]:
    """(file name, sha256) → size of everything this target confirmed holding in earlier attempts."""
    rows = warehouse.query(
        f"select file_name, sha256, size_bytes from {warehouse.table('control', DELIVERIES_TABLE)} "
        "where target = @target and status in ('sent', 'present')",
        {"target": target},
    )
    return {(str(row["file_name"]), str(row["sha256"])): int(row["size_bytes"]) for row in rows}


def _is_present(target: VendorTarget, local: LocalFile, recorded: dict[tuple[str, str], int]) -> bool:
    """The vendor holds this exact file: same size, and our record of a verified delivery or a checksum match."""
    if target.size_of(local.name) != local.size:
        return False
    # A recorded verified delivery of these bytes spares reading the vendor's copy back.
    return recorded.get((local.name, local.sha256)) == local.size or target.holds(local)


def _deliver_one(
    target: VendorTarget, local: LocalFile, entry: FileDelivery, present: bool, progress: Progress | None
) -> None:
    entry.size_bytes = local.size
    entry.sha256 = local.sha256
    if present:
        entry.status = "present"
        entry.reason = "already at the vendor (same name, size and checksum)"
    else:
        on_progress: TransferProgress | None = None
        if progress is not None:
            report_progress, name = progress, local.name

            def on_progress(sent: int, total: int) -> None:
                report_progress(name, sent, total)

        target.send(local, on_progress)
        entry.status = "sent"
    entry.finished_at = dt.datetime.now(dt.UTC)
    log.info("file=%s status=%s size_bytes=%s target=%s", local.name, entry.status, local.size, target.address)


def _attempt(
    target: VendorTarget,
    pairs: Sequence[_Pair],
    report: DeliveryReport,
    recorded: dict[tuple[str, str], int],
    progress: Progress | None,
) -> None:
    """Data files first, then the manifests: the vendor starts on a manifest, which must find its data complete."""
    steps = [(pair, pair.data, pair.data_key, "data") for pair in pairs]
    steps += [(pair, pair.manifest, pair.manifest_key, "manifest") for pair in pairs]
    for pair, local, key, role in steps:
        entry = FileDelivery(local.name, "data" if role == "data" else "manifest", key)
        report.files.append(entry)
        try:
            present = _is_present(target, local, recorded)
            if role == "data" and not present and target.size_of(pair.manifest.name) is not None:
                # An old manifest must not sit beside new data: it goes now and comes back at its turn.
                target.remove(pair.manifest.name)
            _deliver_one(target, local, entry, present, progress)
        except MdpError as error:
            entry.reason = f"{type(error).__name__}: {error}"
            entry.finished_at = dt.datetime.now(dt.UTC)
            raise DeliveryFailedError(report.date.isoformat(), local.name, error) from error


def open_target(settings: Settings, delivery: DeliverySettings) -> VendorTarget:
    """The configured target, connected; the caller closes it."""
    if delivery.sftp is not None:
        from orchestrator.delivery.sftp import SftpTarget

        return SftpTarget.connect(delivery.sftp)
    if delivery.bucket is not None:
        from orchestrator.storage.gcs import GcsStore, gcs_client

        cloud = settings.cloud
        client = gcs_client(
            cloud.project if cloud else None,
            cloud.storage_emulator_host if cloud else os.environ.get("STORAGE_EMULATOR_HOST"),
        )
        store = GcsStore(client, delivery.bucket)
        try:
            # One listing call up front: a missing bucket or permission fails here with its own message.
            next(iter(store.list(delivery.prefix)), None)
        except BaseException:
            client.close()
            raise
        return ObjectStoreTarget(store, delivery.prefix, delivery.address, client.close)
    assert delivery.folder is not None
    return ObjectStoreTarget(LocalFolderStore(delivery.folder), delivery.prefix, delivery.address)


def _record(settings: Settings, report: DeliveryReport) -> None:
    with closing(open_warehouse(settings)) as warehouse:
        warehouse.ensure_layout(load_specs(settings.specs_dir))
        warehouse.insert_rows(
            DELIVERIES_TABLE,
            [
                {
                    "delivery_id": report.delivery_id,
                    "business_date": report.date,
                    "target": report.target,
                    "file_name": entry.name or None,
                    "role": entry.role,
                    "extract_key": entry.extract_key,
                    "size_bytes": entry.size_bytes,
                    "sha256": entry.sha256,
                    "status": entry.status,
                    "reason": entry.reason,
                    "started_at": entry.started_at.replace(tzinfo=None),
                    "finished_at": (entry.finished_at or dt.datetime.now(dt.UTC)).replace(tzinfo=None),
                }
                for entry in report.files
            ],
        )


def deliver_extract(
    settings: Settings,
    date: dt.date,
    *,
    delivery: DeliverySettings | None = None,
    progress: Progress | None = None,
) -> DeliveryReport:
    """Send the date's extract to the vendor and record every file of the attempt in `control.extract_deliveries`."""
    delivery = delivery or load_delivery_settings(settings.env, settings.home)
    report = DeliveryReport(
        delivery_id=dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8],
        date=date,
        target=delivery.address,
    )
    with closing(open_warehouse(settings)) as warehouse:
        warehouse.ensure_layout(load_specs(settings.specs_dir))
        recorded = _recorded(warehouse, delivery.address)
    scratch = settings.work_dir / "deliver" / report.delivery_id
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with ExitStack() as stack:
            try:
                pairs = _extract_pairs(open_buckets(settings).extracts, date, stack, scratch)
                target = open_target(settings, delivery)
            except MdpError as error:
                # Stopped before any file: no extract, or the vendor was unreachable or not who it should be.
                session = FileDelivery("", "session", "", reason=f"{type(error).__name__}: {error}")
                session.finished_at = session.started_at
                report.files.append(session)
                raise
            stack.callback(target.close)
            _attempt(target, pairs, report, recorded, progress)
    finally:
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
        if report.files:
            _record(settings, report)
    return report


def list_deliveries(settings: Settings, date: dt.date | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Recorded delivery attempts, newest first, one row per file."""
    with closing(open_warehouse(settings)) as warehouse:
        warehouse.ensure_layout(load_specs(settings.specs_dir))
        where = "where business_date = @date " if date else ""
        return warehouse.query(
            "select delivery_id, business_date, target, file_name, role, status, size_bytes, sha256, reason, "
            f"started_at, finished_at from {warehouse.table('control', DELIVERIES_TABLE)} {where}"
            f"order by delivery_id desc, started_at limit {int(limit)}",
            {"date": date} if date else None,
        )

"""Match landed objects to specs and pair data files with their control files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.specs.model import SourceSpec, control_key_for
from orchestrator.storage.base import ObjectInfo, ObjectStore


@dataclass(frozen=True)
class LandedObject:
    """A data file in landing, matched (or not) to a spec."""

    info: ObjectInfo
    spec: SourceSpec | None
    business_date: dt.date | None
    control: ObjectInfo | None
    control_key: str | None

    @property
    def key(self) -> str:
        """The landing key."""
        return self.info.key


@dataclass(frozen=True)
class LandingScan:
    """Everything found in landing: data files and control files still waiting for their data."""

    files: list[LandedObject]
    orphan_controls: list[ObjectInfo]


def _match(key: str, specs: Sequence[SourceSpec]) -> tuple[SourceSpec, dt.date] | None:
    for spec in specs:
        found = spec.landing_regex().match(key)
        if found:
            try:
                return spec, dt.datetime.strptime(found.group("business_date"), "%Y%m%d").date()
            except ValueError:
                return None
    return None


def _is_control(key: str, specs: Sequence[SourceSpec]) -> bool:
    return any((pattern := spec.control_regex()) is not None and pattern.match(key) for spec in specs)


def scan_landing(landing: ObjectStore, specs: Sequence[SourceSpec], prefix: str = "") -> LandingScan:
    """List landing once and classify every object."""
    objects = {info.key: info for info in landing.list(prefix) if not info.key.rsplit("/", 1)[-1].startswith(".")}
    files: list[LandedObject] = []
    paired: set[str] = set()
    for key, info in objects.items():
        if _is_control(key, specs):
            continue
        matched = _match(key, specs)
        if matched is None:
            files.append(LandedObject(info, None, None, None, None))
            continue
        spec, business_date = matched
        control_key = control_key_for(spec, key)
        control = objects.get(control_key) if control_key else None
        if control_key:
            paired.add(control_key)
        files.append(LandedObject(info, spec, business_date, control, control_key))
    orphans = [info for key, info in objects.items() if _is_control(key, specs) and key not in paired]
    return LandingScan(files=files, orphan_controls=orphans)

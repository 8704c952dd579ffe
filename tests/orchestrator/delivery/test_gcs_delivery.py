"""`mdp deliver` to a vendor GCS bucket on fake-gcs-server, through the object-store seam."""

from __future__ import annotations

import hashlib

from orchestrator.delivery.service import deliver_extract, list_deliveries
from orchestrator.delivery.settings import DeliverySettings
from orchestrator.settings import Settings
from orchestrator.storage import read_bytes
from tests.orchestrator.conftest import NewGcsStore
from tests.orchestrator.delivery.support import EXTRACT_DATE, build_extract


def test_vendor_bucket_gets_verified_objects_once_and_a_new_extract_replaces_them(
    settings: Settings, new_gcs_store: NewGcsStore
) -> None:
    vendor = new_gcs_store()
    delivery = DeliverySettings(target="gcs", bucket=vendor.name, prefix="inbound/")
    extract = build_extract(settings, rows=200)
    folder = settings.home / "extracts" / EXTRACT_DATE.isoformat()

    first = deliver_extract(settings, EXTRACT_DATE, delivery=delivery)
    again = deliver_extract(settings, EXTRACT_DATE, delivery=delivery)

    assert [(f.role, f.status) for f in first.files] == [("data", "sent"), ("manifest", "sent")]
    assert [f.status for f in again.files] == ["present", "present"]
    assert sorted(info.key for info in vendor.list()) == sorted(
        "inbound/" + key.rsplit("/", 1)[-1] for key in (extract.data_key, extract.manifest_key)
    )
    for path in folder.iterdir():
        assert read_bytes(vendor, "inbound/" + path.name) == path.read_bytes()

    regenerated = build_extract(settings, rows=201, salt="v2")
    third = deliver_extract(settings, EXTRACT_DATE, delivery=delivery)

    assert [f.status for f in third.files] == ["sent", "sent"]
    data = read_bytes(vendor, "inbound/" + regenerated.data_key.rsplit("/", 1)[-1])
    assert hashlib.sha256(data).hexdigest() == regenerated.sha256
    recorded = list_deliveries(settings, EXTRACT_DATE)
    assert sorted(r["status"] for r in recorded) == ["present", "present", "sent", "sent", "sent", "sent"]
    assert {r["target"] for r in recorded} == {f"gs://{vendor.name}/inbound/"}

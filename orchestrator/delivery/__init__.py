"""Vendor delivery of the daily extract: SFTP with a pinned host key, or the vendor's GCS bucket."""

from orchestrator.delivery.exceptions import (
    DeliveryError,
    DeliveryFailedError,
    DeliverySettingError,
    ExtractInconsistentError,
    ExtractNotFoundError,
    HostKeyMismatchError,
    TransferVerificationError,
    VendorRefusedError,
    VendorUnavailableError,
)
from orchestrator.delivery.service import DeliveryReport, FileDelivery, deliver_extract, list_deliveries
from orchestrator.delivery.settings import DeliverySettings, SftpSettings, load_delivery_settings
from orchestrator.delivery.targets import LocalFile, ObjectStoreTarget, VendorTarget

__all__ = [
    "DeliveryError",
    "DeliveryFailedError",
    "DeliveryReport",
    "DeliverySettingError",
    "DeliverySettings",
    "ExtractInconsistentError",
    "ExtractNotFoundError",
    "FileDelivery",
    "HostKeyMismatchError",
    "LocalFile",
    "ObjectStoreTarget",
    "SftpSettings",
    "TransferVerificationError",
    "VendorRefusedError",
    "VendorTarget",
    "VendorUnavailableError",
    "deliver_extract",
    "list_deliveries",
    "load_delivery_settings",
]

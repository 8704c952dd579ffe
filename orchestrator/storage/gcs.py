"""A bucket in Google Cloud Storage: the only module that calls google-cloud-storage."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import google.auth
import google.cloud.storage as storage  # type: ignore[import-untyped]
import google_crc32c
import requests
from google.api_core import exceptions as google_exceptions
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError, TransportError
from google.cloud.storage.retry import DEFAULT_RETRY  # type: ignore[import-untyped]

from orchestrator.exceptions import FileNotFoundInStoreError, MdpError, PreconditionFailedError, Terminal, Transient
from orchestrator.storage.base import ObjectInfo

# Files above 8 MiB go up as resumable uploads in chunks of this size (a multiple of 256 KiB), so memory stays flat.
_UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024
_READ_BLOCK_BYTES = 1 << 20
# How long the SDK keeps retrying a call that failed transiently (its own default), before we report it.
DEFAULT_RETRY_TIMEOUT_SECONDS = 120.0

# API answers a retry may get past: 5xx, rate limiting (and 408, which has no class of its own).
_RETRYABLE_API_ERRORS = (google_exceptions.ServerError, google_exceptions.TooManyRequests)
# The request never got a complete answer.
_CONNECTION_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    TransportError,
    ConnectionError,
)

# GCS answers an upload whose bytes do not match the checksums sent with it with 400 (reason "invalid") and a
# message saying so; that reason covers other bad requests too, so the message is what tells them apart.
# https://cloud.google.com/storage/docs/data-validation
_CHECKSUM_REFUSED_MESSAGE = "doesn't match calculated"

# google-cloud-storage ships no type information: its Blob is `Any` here and `_remote` narrows what we read.
_Blob = Any


class StorageUnavailableError(Transient):
    """GCS did not answer, or answered with a retryable error (5xx, 429, timeout, lost connection)."""

    def __init__(self, bucket: str, key: str, detail: str) -> None:
        self.bucket = bucket
        self.key = key
        super().__init__(f"{_ids(bucket, key)}: storage unavailable ({detail}); the next cycle retries")


class StorageRequestError(Terminal):
    """GCS refused the request (bad request, no permission, no such bucket); retrying unchanged fails the same way."""

    def __init__(self, bucket: str, key: str, detail: str) -> None:
        self.bucket = bucket
        self.key = key
        super().__init__(f"{_ids(bucket, key)}: refused by Cloud Storage ({detail}); fix the setup and rerun")


class ChecksumMismatchError(Transient):
    """The bytes that arrived differ from the bytes that were sent; nothing corrupt is kept."""

    def __init__(self, bucket: str, key: str, detail: str) -> None:
        self.bucket = bucket
        self.key = key
        super().__init__(f"{_ids(bucket, key)}: checksum mismatch ({detail}); the next cycle retries the transfer")


class GcsCredentialsError(Terminal):
    """No application default credentials were found for Cloud Storage."""


def _ids(bucket: str, key: str) -> str:
    return f"bucket={bucket} file={key}" if key else f"bucket={bucket}"


@contextmanager
def _sdk_errors(bucket: str, key: str) -> Iterator[None]:
    """Translate what google-cloud-storage raises into the package's errors, keeping the cause."""
    try:
        yield
    except google_exceptions.PreconditionFailed as error:
        raise PreconditionFailedError(key) from error
    except google_exceptions.NotFound as error:
        raise FileNotFoundInStoreError(key) from error
    except google_exceptions.RetryError as error:
        raise StorageUnavailableError(bucket, key, f"still failing after retries: {error.cause}") from error
    except google_exceptions.GoogleAPICallError as error:
        detail = f"{error.code} {error.message}"
        if isinstance(error, _RETRYABLE_API_ERRORS) or error.code == HTTPStatus.REQUEST_TIMEOUT:
            raise StorageUnavailableError(bucket, key, detail) from error
        raise StorageRequestError(bucket, key, detail) from error
    except _CONNECTION_ERRORS as error:
        raise StorageUnavailableError(bucket, key, f"{type(error).__name__}: {error}") from error
    except GoogleAuthError as error:
        if error.retryable:
            raise StorageUnavailableError(bucket, key, f"credentials: {error}") from error
        raise StorageRequestError(bucket, key, f"credentials: {error}") from error


def gcs_client(project: str | None, emulator_host: str | None) -> storage.Client:
    """A client for fake-gcs-server at emulator_host, or for GCS with application default credentials."""
    if emulator_host:
        endpoint = emulator_host if "://" in emulator_host else f"http://{emulator_host}"
        return storage.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": endpoint},
        )
    # Naming the quota project keeps google-auth from warning about gcloud user credentials without one.
    try:
        credentials, detected_project = google.auth.default(quota_project_id=project)
    except DefaultCredentialsError as error:
        raise GcsCredentialsError(
            f"project={project}: no Google credentials found ({error}); run 'gcloud auth application-default login' "
            "or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from error
    return storage.Client(project=project or detected_project, credentials=credentials)


class _Digests:
    """MD5 and CRC32C of a byte stream, fed block by block."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._crc32c = 0

    @classmethod
    def of_file(cls, path: Path) -> _Digests:
        digests = cls()
        with path.open("rb") as reader:
            for block in iter(lambda: reader.read(_READ_BLOCK_BYTES), b""):
                digests.update(block)
        return digests

    @classmethod
    def of_bytes(cls, data: bytes) -> _Digests:
        digests = cls()
        digests.update(data)
        return digests

    def update(self, block: bytes) -> None:
        self._md5.update(block)
        self._crc32c = int(google_crc32c.extend(self._crc32c, block))

    @property
    def md5_base64(self) -> str:
        """In the form GCS keeps in an object's `md5Hash`."""
        return base64.b64encode(self._md5.digest()).decode()

    @property
    def crc32c_base64(self) -> str:
        """In the form GCS keeps in an object's `crc32c` (big-endian, base64)."""
        return base64.b64encode(self._crc32c.to_bytes(4, "big")).decode()

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest()


class _HashingWriter:
    """A write-only sink for downloads: hashes every block and passes it on to target, if any."""

    def __init__(self, target: BinaryIO | None) -> None:
        self.digests = _Digests()
        self._target = target

    def write(self, block: bytes) -> int:
        self.digests.update(block)
        if self._target is not None:
            self._target.write(block)
        return len(block)


@dataclass(frozen=True)
class _Remote:
    """What one object's metadata says, narrowed from the SDK's untyped Blob."""

    info: ObjectInfo
    crc32c_base64: str | None
    md5_base64: str | None  # None for composite objects


def _remote(blob: _Blob) -> _Remote:
    updated = blob.updated
    assert isinstance(updated, dt.datetime), f"object {blob.name} has no update time"
    return _Remote(
        info=ObjectInfo(
            key=str(blob.name),
            size=int(blob.size),
            generation=int(blob.generation),
            updated_at_epoch=updated.timestamp(),
        ),
        crc32c_base64=str(blob.crc32c) if blob.crc32c else None,
        md5_base64=str(blob.md5_hash) if blob.md5_hash else None,
    )


def _mismatch(remote: _Remote, digests: _Digests) -> str | None:
    """What differs between the object's checksums and the bytes we hold, or None when they agree."""
    if remote.crc32c_base64 is None and remote.md5_base64 is None:
        return "the object has no checksum to verify against"
    if remote.crc32c_base64 is not None and remote.crc32c_base64 != digests.crc32c_base64:
        return f"crc32c: object {remote.crc32c_base64}, local {digests.crc32c_base64}"
    if remote.md5_base64 is not None and remote.md5_base64 != digests.md5_base64:
        return f"md5: object {remote.md5_base64}, local {digests.md5_base64}"
    return None


class GcsStore:
    """A GCS bucket; object generations are the ones GCS assigns."""

    def __init__(
        self, client: storage.Client, bucket: str, *, retry_timeout_seconds: float = DEFAULT_RETRY_TIMEOUT_SECONDS
    ) -> None:
        self._client = client
        self._bucket = client.bucket(bucket)
        self._name = bucket
        self._retry: Retry = DEFAULT_RETRY.with_timeout(retry_timeout_seconds)

    @property
    def name(self) -> str:
        """The bucket's name, for messages."""
        return self._name

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (emulators and demos; real buckets come from infrastructure)."""
        with _sdk_errors(self._name, ""):
            try:
                self._client.create_bucket(self._name, retry=self._retry)
            except google_exceptions.Conflict:
                return  # it exists, perhaps created a moment ago by a concurrent run

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with prefix, in key order (GCS lists in lexicographic order)."""
        with _sdk_errors(self._name, prefix):
            try:
                for blob in self._client.list_blobs(self._name, prefix=prefix, retry=self._retry):
                    yield _remote(blob).info
            except google_exceptions.NotFound as error:
                # Listing a prefix with no objects is not an error: a 404 means the bucket itself.
                raise StorageRequestError(self._name, prefix, "the bucket does not exist") from error

    def _get(self, key: str) -> _Remote | None:
        with _sdk_errors(self._name, key):
            blob = self._bucket.get_blob(key, retry=self._retry)
        return None if blob is None else _remote(blob)

    def stat(self, key: str) -> ObjectInfo | None:
        """The object's info, or None."""
        remote = self._get(key)
        return None if remote is None else remote.info

    def _download(self, key: str, target: BinaryIO | None) -> _Digests:
        """Stream the object into target, checked against its CRC32C (MD5 when it has none)."""
        with _sdk_errors(self._name, key):
            blob = self._bucket.get_blob(key, retry=self._retry)
            if blob is None:
                raise FileNotFoundInStoreError(key)
            remote = _remote(blob)
            writer = _HashingWriter(target)
            # The SDK cannot check a download resumed with a range request, so we check the whole stream ourselves.
            # Raw bytes: no decompressive transcoding, so they hash to the stored checksums.
            blob.download_to_file(
                writer,
                if_generation_match=remote.info.generation,
                raw_download=True,
                checksum=None,
                retry=self._retry,
            )
        mismatch = _mismatch(remote, writer.digests)
        if mismatch is not None:
            raise ChecksumMismatchError(self._name, key, f"download: {mismatch}")
        return writer.digests

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A verified download in a temporary folder, under the key's file name; removed on exit."""
        with tempfile.TemporaryDirectory(prefix="mdp-gcs-") as folder:
            path = Path(folder) / (PurePosixPath(key).name or "object")
            with path.open("wb") as writer:
                self._download(key, writer)
            yield path

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        """A reader of a verified local copy."""
        # Not blob.open("rb"): its ranged reads cannot be checked against the object's checksum, and the SDK's
        # errors would surface untranslated in the caller's read loop. The copy lives on disk, never in memory.
        with self.local_copy(key) as path, path.open("rb") as reader:
            yield reader

    def _upload(
        self, key: str, reader: BinaryIO, size: int, sent: _Digests, if_generation_match: int | None
    ) -> ObjectInfo:
        blob = self._bucket.blob(key, chunk_size=_UPLOAD_CHUNK_BYTES)
        # GCS checks the bytes it receives against checksums sent with the upload and refuses the write on a mismatch.
        blob.crc32c = sent.crc32c_base64
        blob.md5_hash = sent.md5_base64
        with _sdk_errors(self._name, key):
            try:
                blob.upload_from_file(
                    reader, size=size, if_generation_match=if_generation_match, checksum=None, retry=self._retry
                )
            except google_exceptions.BadRequest as error:
                if _CHECKSUM_REFUSED_MESSAGE not in error.message.lower():
                    raise
                detail = f"upload refused, nothing was written: {error.message}"
                raise ChecksumMismatchError(self._name, key, detail) from error
        remote = _remote(blob)
        # Servers that skip that check (emulators) are caught here; the bad object goes, only at its generation.
        mismatch = _mismatch(remote, sent)
        if mismatch is not None:
            try:
                self.delete(key, if_generation_match=remote.info.generation)
            except MdpError as error:
                detail = f"upload: {mismatch}; deleting the object written failed too"
                raise ChecksumMismatchError(self._name, key, detail) from error
            raise ChecksumMismatchError(self._name, key, f"upload: {mismatch}; the object written was deleted")
        return remote.info

    def upload_file(self, source: Path, key: str, *, if_generation_match: int | None = None) -> ObjectInfo:
        """Upload a local file, streamed (resumable above 8 MiB), and verify what GCS stored."""
        sent = _Digests.of_file(source)
        with source.open("rb") as reader:
            return self._upload(key, reader, source.stat().st_size, sent, if_generation_match)

    def write_bytes(self, key: str, data: bytes, *, if_generation_match: int | None = None) -> ObjectInfo:
        """Write bytes from memory (small objects) and verify what GCS stored."""
        return self._upload(key, io.BytesIO(data), len(data), _Digests.of_bytes(data), if_generation_match)

    def delete(self, key: str, *, if_generation_match: int | None = None) -> None:
        """Delete the object if it is still the given generation; absent objects are fine."""
        with _sdk_errors(self._name, key):
            try:
                self._bucket.blob(key).delete(if_generation_match=if_generation_match, retry=self._retry)
            except google_exceptions.NotFound:
                return

    def md5_hex(self, key: str) -> str:
        """The MD5 GCS keeps for the object; computed from a verified download for composite objects."""
        remote = self._get(key)
        if remote is None:
            raise FileNotFoundInStoreError(key)
        if remote.md5_base64 is not None:
            return base64.b64decode(remote.md5_base64).hex()
        return self._download(key, None).md5_hex

    def uri(self, key: str) -> str:
        """`gs://bucket/key`, as BigQuery load jobs take it."""
        return f"gs://{self._name}/{key}"

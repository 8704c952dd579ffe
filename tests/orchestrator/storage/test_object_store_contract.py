"""The object-store contract; every backend must pass these."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.exceptions import PreconditionFailedError
from orchestrator.storage import LocalFolderStore, ObjectStore, move_object, read_bytes


@pytest.fixture(params=["local-folder"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ObjectStore, ObjectStore]:
    """Two buckets of the backend under test."""
    assert request.param == "local-folder"
    return LocalFolderStore(tmp_path / "a"), LocalFolderStore(tmp_path / "b")


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


def test_delete_with_stale_generation_is_refused(stores: tuple[ObjectStore, ObjectStore]) -> None:
    store, _ = stores
    first = store.write_bytes("f", b"one")
    store.write_bytes("f", b"two!", if_generation_match=first.generation)
    with pytest.raises(PreconditionFailedError):
        store.delete("f", if_generation_match=first.generation)
    assert read_bytes(store, "f") == b"two!"


def test_move_copies_then_deletes_source(stores: tuple[ObjectStore, ObjectStore]) -> None:
    source, target = stores
    source.write_bytes("in/file.csv", b"a,b\n1,2\n")
    moved = move_object(source, "in/file.csv", target, "out/file.csv")
    assert moved.size == 8
    assert source.stat("in/file.csv") is None
    assert read_bytes(target, "out/file.csv") == b"a,b\n1,2\n"
    assert target.md5_hex("out/file.csv") == "e5ebd4c02cefbe7955977c67ada242b7"


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

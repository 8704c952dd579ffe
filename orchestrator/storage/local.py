"""A bucket that is a local folder: the embedded default."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from orchestrator.exceptions import FileNotFoundInStoreError, PreconditionFailedError
from orchestrator.storage.base import ObjectInfo

# Files being written carry this prefix until their atomic rename, so listings skip them.
_PARTIAL_PREFIX = ".partial-"


class LocalFolderStore:
    """A folder whose files are objects; the file's mtime in ns stands in for GCS generations."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    @property
    def name(self) -> str:
        """The folder's path, for messages."""
        return str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise FileNotFoundInStoreError(key)
        return path

    def _info(self, key: str, path: Path) -> ObjectInfo | None:
        try:
            status = path.stat()
        except FileNotFoundError:
            return None
        return ObjectInfo(key=key, size=status.st_size, generation=status.st_mtime_ns, updated_at_epoch=status.st_mtime)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Files under the folder whose key starts with prefix, in key order."""
        keys = sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file() and not path.name.startswith(_PARTIAL_PREFIX)
        )
        for key in keys:
            if key.startswith(prefix):
                info = self._info(key, self.root / key)
                if info is not None:
                    yield info

    def stat(self, key: str) -> ObjectInfo | None:
        """The file's info, or None."""
        return self._info(key, self._path(key))

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        """Open the file for reading."""
        try:
            with self._path(key).open("rb") as reader:
                yield reader
        except FileNotFoundError as error:
            raise FileNotFoundInStoreError(key) from error

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """The file itself: no copy is needed."""
        path = self._path(key)
        if not path.exists():
            raise FileNotFoundInStoreError(key)
        yield path

    def _check_generation(self, key: str, path: Path, if_generation_match: int | None) -> None:
        if if_generation_match is None:
            return
        info = self._info(key, path)
        current = 0 if info is None else info.generation
        if current != if_generation_match:
            raise PreconditionFailedError(key)

    def _publish(self, partial: Path, key: str, target: Path, if_generation_match: int | None) -> ObjectInfo:
        if if_generation_match == 0:
            # link() fails if the target exists: an atomic create-if-absent.
            try:
                os.link(partial, target)
            except FileExistsError as error:
                raise PreconditionFailedError(key) from error
            finally:
                partial.unlink(missing_ok=True)
        else:
            self._check_generation(key, target, if_generation_match)
            partial.replace(target)
        info = self._info(key, target)
        assert info is not None
        return info

    def _partial_path(self, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=_PARTIAL_PREFIX, dir=target.parent)
        os.close(handle)
        return Path(name)

    def upload_file(self, source: Path, key: str, *, if_generation_match: int | None = None) -> ObjectInfo:
        """Copy a local file in, atomically."""
        target = self._path(key)
        partial = self._partial_path(target)
        try:
            shutil.copyfile(source, partial)
            with partial.open("rb") as written:
                os.fsync(written.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return self._publish(partial, key, target, if_generation_match)

    def write_bytes(self, key: str, data: bytes, *, if_generation_match: int | None = None) -> ObjectInfo:
        """Write bytes atomically."""
        target = self._path(key)
        partial = self._partial_path(target)
        try:
            with partial.open("wb") as writer:
                writer.write(data)
                writer.flush()
                os.fsync(writer.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return self._publish(partial, key, target, if_generation_match)

    def delete(self, key: str, *, if_generation_match: int | None = None) -> None:
        """Remove the file if it is still the given generation; absent files are fine."""
        path = self._path(key)
        if not path.exists():
            return
        self._check_generation(key, path, if_generation_match)
        path.unlink(missing_ok=True)
        self._prune_empty_parents(path.parent)

    def _prune_empty_parents(self, folder: Path) -> None:
        root = self.root.resolve()
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def md5_hex(self, key: str) -> str:
        """MD5 of the file, streamed."""
        digest = hashlib.md5(usedforsecurity=False)
        with self.open_read(key) as reader:
            for block in iter(lambda: reader.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def uri(self, key: str) -> str:
        """The file's absolute path."""
        return str(self._path(key))

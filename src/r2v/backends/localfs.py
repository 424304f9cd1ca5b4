"""BlobStore in a local directory (the embedded default, `--storage file:///DIR`).

A write goes to a temporary file in DIR/.tmp (the same filesystem) and is renamed into place, so a reader never
sees half a file, even after a crash mid-write."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import BinaryIO

from r2v.storage.blobs import BlobStore


class LocalBlobStore(BlobStore):
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._partial = self.root / ".tmp"
        self._partial.mkdir(exist_ok=True)

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root not in path.parents:
            raise ValueError(f"blob name escapes the store: {name!r}")
        return path

    def put_file(self, name: str, source: Path) -> None:
        target = self._path(name)
        try:
            self._place(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            with open(source, "rb") as src:  # another filesystem: copied beside the blobs, then renamed
                self._write(target, lambda out: shutil.copyfileobj(src, out, 1024 * 1024))

    def put_bytes(self, name: str, data: bytes) -> None:
        self._write(self._path(name), lambda out: out.write(data))

    def _write(self, target: Path, fill) -> None:
        with tempfile.NamedTemporaryFile(dir=self._partial, delete=False) as tmp:
            try:
                fill(tmp)
                tmp.flush()
                os.fsync(tmp.fileno())
            except BaseException:
                os.unlink(tmp.name)
                raise
        try:
            self._place(Path(tmp.name), target)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise

    @staticmethod
    def _place(source: Path, target: Path) -> None:
        """Rename `source` to `target`, making the target's folder; again if a delete emptied and removed that
        folder in between (delete() removes folders it leaves empty)."""
        for _ in range(3):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, target)
                return
            except FileNotFoundError:
                if not source.exists():
                    raise
        os.replace(source, target)  # a fourth time: whatever it raises now is real

    def fetch(self, name: str, dest: Path) -> bool:
        path = self._path(name)
        if not path.is_file():
            return False
        # A second name for the same bytes, no copy (the port forbids writing to `dest`), put in place under a
        # temporary name so that whatever `dest` was before is replaced, never written through.
        part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            try:
                os.link(path, part)
            except OSError:  # another filesystem
                shutil.copyfile(path, part)
            os.replace(part, dest)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return True

    def open(self, name: str) -> BinaryIO | None:
        try:
            return open(self._path(name), "rb")  # noqa: SIM115 - the caller closes it
        except (FileNotFoundError, IsADirectoryError):
            return None

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def children(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def delete(self, name: str) -> None:
        path = self._path(name)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        # Folders left empty go too, as prefixes do in an object store: children() lists only what holds blobs.
        for parent in path.parents:
            if parent == self.root:
                break
            try:
                parent.rmdir()
            except OSError:  # not empty (or already gone)
                break

    def remove_partial_writes(self) -> None:
        shutil.rmtree(self._partial, ignore_errors=True)
        self._partial.mkdir(exist_ok=True)

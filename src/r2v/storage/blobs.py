"""The BlobStore port and its local-directory implementation.

Names are relative, '/'-separated ("results/<task>.mp4"). Writes go to a temporary file and are renamed into
place, so a reader never sees half a file, even after a crash mid-write."""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path


def result_blob(task_id: str) -> str:
    """Where a task's finished video is kept."""
    return f"results/{task_id}.mp4"


INPUTS_DIR = "inputs"


def inputs_blob_dir(task_id: str) -> str:
    """Where the inputs a task carried inline (data: URIs) are kept."""
    return f"{INPUTS_DIR}/{task_id}"


class BlobStore(ABC):
    @abstractmethod
    def put_file(self, name: str, source: Path) -> None:
        """Move (or copy) a finished local file in under `name`, atomically."""

    @abstractmethod
    def put_bytes(self, name: str, data: bytes) -> None: ...

    @abstractmethod
    def local_path(self, name: str) -> Path | None:
        """A local path for reading, or None if there is no such blob."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def children(self, prefix: str) -> list[str]:
        """The names directly under `prefix` ("inputs" -> ["<task id>", ...]); empty if there is none."""

    @abstractmethod
    def delete(self, name: str) -> None: ...

    @abstractmethod
    def scratch_dir(self) -> Path:
        """Where in-progress files go (same filesystem as the blobs, so renames are atomic)."""

    @abstractmethod
    def clear_scratch(self) -> None:
        """Remove every in-progress file (at startup, when no render can be running)."""


class LocalBlobStore(BlobStore):
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / ".tmp").mkdir(exist_ok=True)

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root not in path.parents:
            raise ValueError(f"blob name escapes the store: {name!r}")
        return path

    def put_file(self, name: str, source: Path) -> None:
        target = self._path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, target)
        except OSError:  # another filesystem: copy to a temp file beside the target, then rename
            with tempfile.NamedTemporaryFile(dir=self.scratch_dir(), delete=False) as tmp:
                with open(source, "rb") as src:
                    shutil.copyfileobj(src, tmp)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp.name, target)

    def put_bytes(self, name: str, data: bytes) -> None:
        target = self._path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.scratch_dir(), delete=False) as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, target)

    def local_path(self, name: str) -> Path | None:
        path = self._path(name)
        return path if path.is_file() else None

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

    def scratch_dir(self) -> Path:
        return self.root / ".tmp"

    def clear_scratch(self) -> None:
        shutil.rmtree(self.scratch_dir(), ignore_errors=True)
        self.scratch_dir().mkdir(exist_ok=True)

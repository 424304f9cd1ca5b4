"""The BlobStore port: where uploads, inline inputs and results are kept, by name.

Names are relative, '/'-separated ("results/<task>/<attempt>.mp4"). The port asks nothing an object store cannot
do: whole files go in (put_file, put_bytes) and come out into a local file (fetch) or as a stream (open); a store
that can hand out its own expiring URLs (an S3 presigned GET) says so through download_url. Writes are atomic: a
reader never sees half a file, even after a crash mid-write."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO

INPUTS_DIR = "inputs"


def results_blob_dir(task_id: str) -> str:
    """Where every attempt of a task keeps its finished video."""
    return f"results/{task_id}"


def result_blob(task_id: str, attempt: int) -> str:
    """Where one attempt of a task keeps its finished video. Keyed by the attempt too, so that a worker thought dead
    that finishes late writes beside the result of the attempt that won, never over it."""
    return f"{results_blob_dir(task_id)}/{attempt}.mp4"


PREVIEW_FORMATS = {"thumbnail": "webp", "spritesheet": "jpg"}


def preview_blob(result_name: str, variant: str) -> str:
    """Where the preview (`thumbnail` or `spritesheet`, made once with the video) of the result `result_name`
    (results/<task>/<attempt>.mp4) is kept: in the task's inputs folder, which retention and a deletion remove with
    the task, so that results/<task>/ keeps one file per attempt."""
    task_id, file_name = result_name.split("/")[-2:]
    attempt = file_name.removesuffix(".mp4")
    return f"{inputs_blob_dir(task_id)}/previews/{attempt}.{variant}.{PREVIEW_FORMATS[variant]}"


def inputs_blob_dir(task_id: str) -> str:
    """Where the inputs a task carried inline (data: URIs) are kept."""
    return f"{INPUTS_DIR}/{task_id}"


def task_of_blob(name: str) -> str | None:
    """The task a file of its results or inputs folder belongs to (None for any other name)."""
    parts = name.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] in ("results", INPUTS_DIR) else None


class BlobStore(ABC):
    @abstractmethod
    def put_file(self, name: str, source: Path) -> None:
        """Store a finished local file under `name`, atomically (the source may be moved away)."""

    @abstractmethod
    def put_bytes(self, name: str, data: bytes) -> None: ...

    @abstractmethod
    def fetch(self, name: str, dest: Path) -> bool:
        """Put the blob at the local path `dest` (replacing what was there); False if there is no such blob. The
        caller reads `dest` and may delete it, but never writes to it: a local store may hand out the blob's own
        bytes under that name."""

    @abstractmethod
    def open(self, name: str) -> BinaryIO | None:
        """The blob as a readable, seekable binary stream (the caller closes it), or None if there is none."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def children(self, prefix: str) -> list[str]:
        """The names directly under `prefix` ("inputs" -> ["<task id>", ...]); empty if there is none."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete the blob `name`, or every blob under the prefix `name`; nothing there is no error."""

    @abstractmethod
    def remove_partial_writes(self) -> None:
        """Remove what writes interrupted by a crash left behind (at startup, when no write can be running)."""

    def download_url(self, name: str, expires_at_s: int) -> str | None:
        """A URL a client can GET the blob from until `expires_at_s` without r2v, when the store can sign one
        itself (an object store's presigned URL); None: r2v serves the blob under its own signed URL."""
        return None


def delete_task_files(blobs: BlobStore, task_id: str) -> None:
    """Every file a task has: its results (each attempt's video) and its inputs (with the previews)."""
    blobs.delete(results_blob_dir(task_id))
    blobs.delete(inputs_blob_dir(task_id))

"""Retention, as the cloud keeps it: a task's record, inputs and result go 24 h after it ended (queries already
answer UNKNOWN 24 h after submission; the result URL lives 24 h from the end), uploads 48 h after they were
made. The rows go first, then the files."""

from __future__ import annotations

import logging
import threading

from r2v.clock import Clock
from r2v.service.tasks import RETENTION_MS
from r2v.storage.blobs import INPUTS_DIR, BlobStore, delete_task_files, inputs_blob_dir
from r2v.storage.uploads import UploadRegistry
from r2v.tasks.store import TaskStore

log = logging.getLogger(__name__)
SWEEP_INTERVAL_S = 60.0


class Janitor:
    def __init__(self, tasks: TaskStore, uploads: UploadRegistry, blobs: BlobStore, clock: Clock,
                 interval_s: float = SWEEP_INTERVAL_S):  # fmt: skip
        self.tasks, self.uploads, self.blobs, self.clock = tasks, uploads, blobs, clock
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="r2v-janitor", daemon=True)

    def sweep(self) -> tuple[int, int]:
        """One pass; returns (tasks deleted, uploads deleted)."""
        now = self.clock.now_ms()
        blobs = self.blobs
        task_ids = self.tasks.delete_finished_before(now - RETENTION_MS)
        for task_id in task_ids:
            delete_task_files(blobs, task_id)
        uploads = self.uploads.delete_expired(now)
        for blob in uploads:
            blobs.delete(blob)
        if task_ids or uploads:
            log.info("retention: deleted %d task(s) and %d upload(s)", len(task_ids), len(uploads))
        return len(task_ids), len(uploads)

    def remove_orphan_inputs(self) -> int:
        """Inputs saved by a create whose task row never got written (the server died in between). Run at
        startup only, before the API takes requests: a create in progress would look the same."""
        orphans = [t for t in self.blobs.children(INPUTS_DIR) if self.tasks.get(t) is None]
        for task_id in orphans:
            self.blobs.delete(inputs_blob_dir(task_id))
        if orphans:
            log.warning("removed the saved inputs of %d create call(s) interrupted by the last shutdown", len(orphans))
        return len(orphans)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except Exception:  # a failed sweep is retried next time; it must not stop the server
                log.exception("retention sweep failed")

    def start(self) -> None:
        self.remove_orphan_inputs()
        self.sweep()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)  # a sweep in progress ends (a deletion is not cut in half)

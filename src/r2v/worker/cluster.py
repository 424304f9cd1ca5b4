"""`r2v worker`: renders the tasks a WorkQueue hands it, on any machine, with its engines loaded once.

The queue (procrastinate, in the multi-machine mode) decides which job runs where; this module claims the job's
task in the store (the per-key running cap holds across the cluster there) and renders it with the TaskRunner,
as the embedded server's worker processes do."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from r2v.tasks.queue import JobSignals, WorkQueue
from r2v.worker.runner import TaskRunner

log = logging.getLogger(__name__)


def default_name() -> str:
    """host/pid: which machine and process a RUNNING task is on, as its `worker` says."""
    return f"{socket.gethostname()}/{os.getpid()}"


@dataclass
class ClusterWorker:
    runner: TaskRunner
    queue: WorkQueue
    upkeep: Callable[[], None]  # the cluster's retention pass (run by whichever process the queue picks)
    concurrency: int = 1
    per_owner_running: int | None = 5
    name: str = field(default_factory=default_name)
    observe: Callable[[str, float, str | None], None] | None = None  # (status, seconds, failure code): metrics
    rendering: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext  # around a render: metrics

    def render(self, task_id: str, signals: JobSignals) -> None:
        store, clock = self.runner.store, self.runner.clock
        task = store.claim(task_id, self.name, clock.now_ms(), self.per_owner_running)  # OwnerBusy: run it later
        if task is None:
            return  # canceled while it waited, or already ended
        log.info("running task %s (attempt %s)", task_id, task.attempt)
        started = clock.now_ms()
        with self.rendering():
            self.runner.run(task, signals)
        if self.observe is not None:
            ended = store.get(task_id)
            if ended is not None and ended.status.terminal:
                self.observe(ended.status.value, (clock.now_ms() - started) / 1000, ended.code)

    def run(self) -> None:
        """Warm the engines, then render until stop() (from a signal handler or another thread)."""
        self.runner.warm_up()
        log.info("worker %s ready: %d render(s) at once", self.name, self.concurrency)
        self.queue.serve(self.render, self.upkeep, self.concurrency)

    def stop(self) -> None:
        self.queue.stop()

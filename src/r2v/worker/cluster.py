"""`r2v worker`: renders the tasks a WorkQueue hands it, on any machine, with its engines loaded once.

The queue (procrastinate, in the multi-machine mode) decides which job runs where; this module claims the job's
task in the store (the per-key running cap holds across the cluster there) and renders it with the TaskRunner,
as the embedded server's worker processes do. Its renders are bounded by a Watchdog (R2V_TASK_TIMEOUT_S,
R2V_WORKER_MEMORY_MB)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from r2v.tasks.queue import JobSignals, WorkQueue
from r2v.worker.runner import TaskRunner
from r2v.worker.watchdog import EXIT_RESTART, RenderLimits, Watchdog

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
    limits: RenderLimits = field(default_factory=RenderLimits)
    exit_code: int = 0  # what `r2v worker` exits with once run() returns (EXIT_RESTART after the memory limit)

    def __post_init__(self) -> None:
        self.watchdog = Watchdog(self.limits, self.runner.store, self.runner.clock, on_memory_limit=self._restart)

    def render(self, task_id: str, signals: JobSignals) -> None:
        store, clock = self.runner.store, self.runner.clock
        task = store.claim(task_id, self.name, clock.now_ms(), self.per_owner_running)  # OwnerBusy: run it later
        if task is None:
            return  # canceled while it waited, or already ended
        log.info("running task %s (attempt %s)", task_id, task.attempt)
        started = clock.now_ms()
        over_limit = self.watchdog.begin(task)
        bounded = JobSignals(abort_requested=lambda: over_limit() or signals.abort_requested(),
                             stopping=signals.stopping)  # fmt: skip
        try:
            with self.rendering():
                self.runner.run(task, bounded)
        finally:
            self.watchdog.end(task)
        if self.observe is not None:
            ended = store.get(task_id)
            if ended is not None and ended.status.terminal:
                self.observe(ended.status.value, (clock.now_ms() - started) / 1000, ended.code)

    def run(self) -> None:
        """Warm the engines, then render until stop() (from a signal handler or another thread)."""
        self.runner.warm_up()
        self.watchdog.start()
        log.info("worker %s ready: %d render(s) at once", self.name, self.concurrency)
        try:
            self.queue.serve(self.render, self.upkeep, self.concurrency)
        finally:
            self.watchdog.stop()

    def stop(self) -> None:
        self.queue.stop()

    def _restart(self) -> None:
        self.exit_code = EXIT_RESTART
        self.stop()

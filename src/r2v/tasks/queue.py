"""The WorkQueue port: how a cluster worker is handed tasks to render, and how the cluster's periodic upkeep runs.

The embedded default needs none of it (its workers claim from the task store directly); the multi-machine mode
implements it on procrastinate (backends/postgres/queue.py): one job per task, LISTEN/NOTIFY wake-ups, worker
heartbeats, abort, and periodic jobs that run once for the whole cluster."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass


class RetryLater(Exception):
    """The task's job should run again a little later (its key is at its running cap, its worker is stopping, a
    backend is away); not the task's fault, so it uses up none of its attempts."""

    def __init__(self, task_id: str, delay_s: float = 1.0):
        super().__init__(task_id)
        self.task_id = task_id
        self.delay_s = delay_s


@dataclass(frozen=True)
class JobSignals:
    """What a render asks its queue while it runs."""

    abort_requested: Callable[[], bool]  # the user canceled the task (R2V_CANCEL_RUNNING)
    stopping: Callable[[], bool]  # this worker is shutting down: hand the task back


# (task id, signals): claims the task and renders it; raises RetryLater to have the job run again later.
RenderHandler = Callable[[str, JobSignals], None]


class WorkQueue(ABC):
    @abstractmethod
    def serve(self, render: RenderHandler | None, upkeep: Callable[[], None], concurrency: int) -> None:
        """Run jobs until stop(): renders `concurrency` at a time (none when `render` is None: an API process
        only takes part in the upkeep), and the cluster's periodic upkeep (`upkeep`: retention; the queue's own
        recovery of the tasks of dead workers comes with it)."""

    @abstractmethod
    def stop(self) -> None:
        """Ask serve() to return: renders in progress are handed back to the queue (from any thread)."""

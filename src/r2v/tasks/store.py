"""The TaskStore port: task records, the queue workers claim from, and every state change (along the edges of
tasks.model.TRANSITIONS). The SQL stores implement it (backends/sql) on SQLite and on PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from r2v.tasks.model import ListFilter, Task
from r2v.tasks.queue import RetryLater


class OwnerBusy(RetryLater):
    """The task's key already has as many tasks RUNNING as it may (R2V_RATE_LIMITS running=): try it later."""


class TaskStore(ABC):
    @abstractmethod
    def check(self) -> None:
        """Raise if the store cannot be reached (health)."""

    @abstractmethod
    def create(self, task: Task) -> None: ...

    @abstractmethod
    def get(self, task_id: str) -> Task | None: ...

    @abstractmethod
    def list(self, flt: ListFilter) -> tuple[int, list[Task]]:
        """(total matching, one page newest first)."""

    @abstractmethod
    def cancel_pending(self, task_id: str, owner: str, now_ms: int) -> bool:
        """PENDING -> CANCELED atomically; False if the task is not PENDING (or not the owner's)."""

    @abstractmethod
    def request_cancel_running(self, task_id: str, owner: str) -> bool:
        """Ask the worker of a RUNNING task to stop it (an r2v extension); False if it is not RUNNING."""

    @abstractmethod
    def cancel_requested(self, task_id: str) -> bool: ...

    @abstractmethod
    def cancel_running(self, task_id: str, attempt: int, now_ms: int) -> bool:
        """RUNNING -> CANCELED for this attempt, once its worker has stopped it."""

    @abstractmethod
    def claim_next(self, worker: str, now_ms: int, per_owner_running: int | None) -> Task | None:
        """Atomically move the oldest runnable PENDING task to RUNNING and return it (attempt incremented)."""

    @abstractmethod
    def claim(self, task_id: str, worker: str, now_ms: int, per_owner_running: int | None) -> Task | None:
        """Atomically move this PENDING task to RUNNING and return it (attempt incremented); None if it is not
        PENDING (canceled, done, or claimed by another); OwnerBusy if its key is at its running cap."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """How many tasks are kept in each status (for metrics)."""

    @abstractmethod
    def failures_by_code(self) -> dict[str, int]:
        """How many FAILED tasks are kept, by error code (for metrics)."""

    @abstractmethod
    def render_durations(self, bounds_ms: Sequence[int]) -> dict[str, tuple[list[int], int, int]]:
        """For the ended tasks kept that ran (from their last claim to their end), by final status: how many took
        at most each bound (cumulative, one count per bound), how many in all, and their total milliseconds (for
        metrics: a histogram read from the store)."""

    @abstractmethod
    def set_plan(self, task_id: str, attempt: int, plan_json: str) -> None:
        """Keep the director's plan of a RUNNING task (this attempt's); it lives and dies with the task."""

    @abstractmethod
    def get_plan(self, task_id: str) -> str | None: ...

    @abstractmethod
    def set_progress(self, task_id: str, attempt: int, progress: int) -> None: ...

    @abstractmethod
    def succeed(self, task_id: str, attempt: int, now_ms: int, result_name: str, usage_json: str,
                actual_prompt: str | None) -> bool: ...  # fmt: skip

    @abstractmethod
    def fail(self, task_id: str, attempt: int | None, now_ms: int, code: str, message: str) -> bool:
        """RUNNING -> FAILED (attempt None: whatever the attempt)."""

    @abstractmethod
    def fail_overdue(self, worker: str, started_before_ms: int, now_ms: int, message: str) -> bool:
        """The task `worker` runs, if it started before `started_before_ms`: RUNNING -> FAILED (InternalError).
        True if there was one."""

    @abstractmethod
    def delete_task(self, task_id: str, owner: str) -> bool:
        """Delete one task of `owner` that is not RUNNING (a render in progress owns its row until it ends), with
        its plan; False when it is RUNNING, another key's or unknown. A PENDING task deleted is never claimed."""

    @abstractmethod
    def delete_finished_before(self, before_ms: int) -> list[str]:
        """Retention: delete tasks that ended (or, unfinished, were submitted) before `before_ms` and are not
        RUNNING; return their ids."""

    @abstractmethod
    def backdate(self, task_id: str, by_ms: int) -> bool:
        """Move every time of a task (submitted, started, ended) `by_ms` into the past, as if it were that much older
        (the emulator's `expire`: the real retention rules then apply to it). False if there is no such task."""

    @abstractmethod
    def release_running(self, worker: str) -> int:
        """A graceful stop: the RUNNING task of `worker`, whose process has ended, goes back to PENDING without
        using up an attempt (a restart is not the task's fault). Returns how many were touched."""

    @abstractmethod
    def release_task(self, task_id: str, attempt: int) -> bool:
        """A graceful stop of one render (its worker is shutting down): this attempt of the task goes back to
        PENDING without using up an attempt. True if it was RUNNING under that attempt."""

    @abstractmethod
    def requeue_running(self, now_ms: int, worker: str | None = None) -> int:
        """Crash recovery: RUNNING tasks (of one worker, or all) go back to PENDING, or FAILED once they used
        up their attempts. Returns how many were touched."""

    @abstractmethod
    def requeue_task(self, task_id: str, now_ms: int) -> bool:
        """Crash recovery of one task whose worker was lost: as requeue_running. True if it was RUNNING."""

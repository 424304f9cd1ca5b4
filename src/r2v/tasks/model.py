"""The task record and its state machine."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TaskStatus(StrEnum):
    """The states of a task; TRANSITIONS below says which follow which."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"  # only ever answered, never stored

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED)


# The state machine, declared once: every store moves a task only along these edges, each as one conditional
# update ("... WHERE status = <from>"), so that two moves can never both win.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELED}),  # claimed; canceled while waiting
    # done; failed; canceled by its worker (R2V_CANCEL_RUNNING); back in the queue when its worker died or stopped
    TaskStatus.RUNNING: frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED, TaskStatus.PENDING}),
    TaskStatus.SUCCEEDED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELED: frozenset(),
}


def transition(source: TaskStatus, target: TaskStatus) -> tuple[str, str]:
    """(target, source) as stored, for a store's conditional update; refuses an edge the machine does not have."""
    if target not in TRANSITIONS.get(source, frozenset()):
        raise ValueError(f"a task cannot go from {source} to {target}")
    return target.value, source.value


# A task whose worker died this many times is failed rather than retried forever (a poison input).
MAX_ATTEMPTS = 3


@dataclass
class Task:
    task_id: str
    owner: str  # the api key id
    request_id: str
    model: str
    status: TaskStatus
    submit_ms: int
    spec_json: str
    orig_prompt: str
    region: str
    scheduled_ms: int | None = None
    end_ms: int | None = None
    actual_prompt: str | None = None
    progress: int = 0
    attempt: int = 0
    code: str | None = None
    message: str | None = None
    result_name: str | None = None
    usage_json: str | None = None
    worker: str | None = None  # the worker running it (RUNNING only)


@dataclass
class ListFilter:
    owner: str
    since_ms: int
    until_ms: int
    task_id: str | None = None
    model: str | None = None
    status: str | None = None
    page_no: int = 1
    page_size: int = 10

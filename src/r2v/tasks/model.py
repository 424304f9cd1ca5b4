"""The task record and its state machine."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TaskStatus(StrEnum):
    """PENDING -> RUNNING | CANCELED; RUNNING -> SUCCEEDED | FAILED, or back to PENDING when its worker died.
    Each transition is one conditional UPDATE in the store, so two of them can never both win."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"  # only ever answered, never stored

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED)


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

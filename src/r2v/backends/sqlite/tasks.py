"""TaskStore on the embedded SQLite database. Every state change is one conditional UPDATE along an edge of the
state machine (tasks.model.TRANSITIONS), so a cancel and a claim (or a stale worker and a live one) can never both
win."""

from __future__ import annotations

import sqlite3

from r2v.backends.sqlite.database import Database
from r2v.errors import INTERNAL_ERROR
from r2v.tasks.model import MAX_ATTEMPTS, ListFilter, Task, TaskStatus, transition
from r2v.tasks.store import TaskStore

_COLUMNS = (
    "task_id, owner, request_id, model, status, submit_ms, scheduled_ms, end_ms, spec_json, orig_prompt, "
    "actual_prompt, region, progress, attempt, code, message, result_name, usage_json, worker"
)


# The edges of the state machine this store moves tasks along, as (target, source) values for its UPDATEs.
_CLAIM = transition(TaskStatus.PENDING, TaskStatus.RUNNING)
_CANCEL_PENDING = transition(TaskStatus.PENDING, TaskStatus.CANCELED)
_CANCEL_RUNNING = transition(TaskStatus.RUNNING, TaskStatus.CANCELED)
_SUCCEED = transition(TaskStatus.RUNNING, TaskStatus.SUCCEEDED)
_FAIL = transition(TaskStatus.RUNNING, TaskStatus.FAILED)
_REQUEUE = transition(TaskStatus.RUNNING, TaskStatus.PENDING)
RUNNING = TaskStatus.RUNNING.value


def _task(row: sqlite3.Row) -> Task:
    data = dict(row)
    data["status"] = TaskStatus(data["status"])
    return Task(**data)


class SqliteTaskStore(TaskStore):
    def __init__(self, db: Database):
        self.db = db

    def create(self, task: Task) -> None:
        self.db.execute(
            f"INSERT INTO tasks ({_COLUMNS}) VALUES ({', '.join('?' * 19)})",
            (
                task.task_id, task.owner, task.request_id, task.model, task.status.value, task.submit_ms,
                task.scheduled_ms, task.end_ms, task.spec_json, task.orig_prompt, task.actual_prompt, task.region,
                task.progress, task.attempt, task.code, task.message, task.result_name, task.usage_json, task.worker,
            ),
        )  # fmt: skip

    def get(self, task_id: str) -> Task | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return _task(row) if row else None

    def list(self, flt: ListFilter) -> tuple[int, list[Task]]:
        where = ["owner = ?", "submit_ms >= ?", "submit_ms <= ?"]
        params: list = [flt.owner, flt.since_ms, flt.until_ms]
        for column, value in (("task_id", flt.task_id), ("model", flt.model), ("status", flt.status)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        clause = " AND ".join(where)
        total = self.db.execute(f"SELECT count(*) FROM tasks WHERE {clause}", tuple(params)).fetchone()[0]
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM tasks WHERE {clause} ORDER BY submit_ms DESC, rowid DESC LIMIT ? OFFSET ?",
            (*params, flt.page_size, (flt.page_no - 1) * flt.page_size),
        ).fetchall()
        return total, [_task(r) for r in rows]

    def check(self) -> None:
        self.db.execute("SELECT 1")

    def cancel_pending(self, task_id: str, owner: str, now_ms: int) -> bool:
        cur = self.db.execute(
            "UPDATE tasks SET status = ?, end_ms = ? WHERE task_id = ? AND owner = ? AND status = ?",
            (_CANCEL_PENDING[0], now_ms, task_id, owner, _CANCEL_PENDING[1]),
        )
        return cur.rowcount == 1

    def request_cancel_running(self, task_id: str, owner: str) -> bool:
        cur = self.db.execute(
            """INSERT OR IGNORE INTO cancel_requests (task_id)
               SELECT task_id FROM tasks WHERE task_id = ? AND owner = ? AND status = ?""",
            (task_id, owner, RUNNING),
        )
        return cur.rowcount == 1 or self.cancel_requested(task_id)

    def cancel_requested(self, task_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM cancel_requests WHERE task_id = ?", (task_id,)).fetchone() is not None

    def cancel_running(self, task_id: str, attempt: int, now_ms: int) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                """UPDATE tasks SET status = ?, end_ms = ?, worker = NULL
                   WHERE task_id = ? AND attempt = ? AND status = ?""",
                (_CANCEL_RUNNING[0], now_ms, task_id, attempt, _CANCEL_RUNNING[1]),
            )
            conn.execute("DELETE FROM cancel_requests WHERE task_id = ?", (task_id,))
        return cur.rowcount == 1

    def claim_next(self, worker: str, now_ms: int, per_owner_running: int | None) -> Task | None:
        limit = per_owner_running if per_owner_running is not None else -1  # -1: no cap
        with self.db.transaction() as conn:
            row = conn.execute(
                """SELECT task_id FROM tasks AS t WHERE status = ?
                   AND (? < 0 OR (SELECT count(*) FROM tasks AS r WHERE r.owner = t.owner AND r.status = ?) < ?)
                   ORDER BY submit_ms, rowid LIMIT 1""",
                (_CLAIM[1], limit, RUNNING, limit),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                """UPDATE tasks SET status = ?, scheduled_ms = ?, attempt = attempt + 1, worker = ?,
                   progress = 0 WHERE task_id = ? AND status = ?""",
                (_CLAIM[0], now_ms, worker, row["task_id"], _CLAIM[1]),
            )
            claimed = conn.execute(f"SELECT {_COLUMNS} FROM tasks WHERE task_id = ?", (row["task_id"],)).fetchone()
        return _task(claimed)

    def set_plan(self, task_id: str, attempt: int, plan_json: str) -> None:
        with self.db.transaction() as conn:
            running = conn.execute(
                "SELECT 1 FROM tasks WHERE task_id = ? AND attempt = ? AND status = ?", (task_id, attempt, RUNNING)
            ).fetchone()
            if running:
                conn.execute("INSERT OR REPLACE INTO plans (task_id, plan_json) VALUES (?, ?)", (task_id, plan_json))

    def get_plan(self, task_id: str) -> str | None:
        row = self.db.execute("SELECT plan_json FROM plans WHERE task_id = ?", (task_id,)).fetchone()
        return row["plan_json"] if row else None

    def set_progress(self, task_id: str, attempt: int, progress: int) -> None:
        self.db.execute(
            "UPDATE tasks SET progress = ? WHERE task_id = ? AND attempt = ? AND status = ?",
            (progress, task_id, attempt, RUNNING),
        )

    def succeed(self, task_id, attempt, now_ms, result_name, usage_json, actual_prompt) -> bool:
        cur = self.db.execute(
            """UPDATE tasks SET status = ?, end_ms = ?, result_name = ?, usage_json = ?,
               actual_prompt = ?, progress = 100, worker = NULL
               WHERE task_id = ? AND attempt = ? AND status = ?""",
            (_SUCCEED[0], now_ms, result_name, usage_json, actual_prompt, task_id, attempt, _SUCCEED[1]),
        )
        return cur.rowcount == 1

    def fail(self, task_id, attempt, now_ms, code, message) -> bool:
        sql = "UPDATE tasks SET status = ?, end_ms = ?, code = ?, message = ?, worker = NULL " \
              "WHERE task_id = ? AND status = ?"  # fmt: skip
        params: tuple = (_FAIL[0], now_ms, code, message, task_id, _FAIL[1])
        if attempt is not None:
            sql += " AND attempt = ?"
            params += (attempt,)
        return self.db.execute(sql, params).rowcount == 1

    def fail_overdue(self, worker: str, started_before_ms: int, now_ms: int, message: str) -> bool:
        cur = self.db.execute(
            """UPDATE tasks SET status = ?, end_ms = ?, code = ?, message = ?, worker = NULL
               WHERE worker = ? AND status = ? AND scheduled_ms < ?""",
            (_FAIL[0], now_ms, INTERNAL_ERROR, message, worker, _FAIL[1], started_before_ms),
        )
        return cur.rowcount > 0

    def delete_finished_before(self, before_ms: int) -> list[str]:
        # Measured from the end of the task when it has one: its result URL is valid 24 h from then.
        rows = self.db.execute(
            "DELETE FROM tasks WHERE coalesce(end_ms, submit_ms) < ? AND status != ? RETURNING task_id",
            (before_ms, RUNNING),
        ).fetchall()
        return [r["task_id"] for r in rows]

    def release_running(self, worker: str) -> int:
        # The attempt goes back too, so the next claim runs it under the same number; the fencing that the
        # attempt number gives holds, because the worker that ran it has ended.
        return self.db.execute(
            """UPDATE tasks SET status = ?, scheduled_ms = NULL, progress = 0, worker = NULL,
               attempt = attempt - 1 WHERE status = ? AND worker = ?""",
            (*_REQUEUE, worker),
        ).rowcount

    def requeue_running(self, now_ms: int, worker: str | None = None) -> int:
        scope, params = ("AND worker = ?", (worker,)) if worker else ("", ())
        with self.db.transaction() as conn:
            failed = conn.execute(
                f"""UPDATE tasks SET status = ?, end_ms = ?, code = ?, message = ?, worker = NULL
                    WHERE status = ? AND attempt >= ? {scope}""",
                (_FAIL[0], now_ms, INTERNAL_ERROR, f"rendering was interrupted {MAX_ATTEMPTS} times", _FAIL[1],
                 MAX_ATTEMPTS, *params),  # fmt: skip
            ).rowcount
            requeued = conn.execute(
                f"""UPDATE tasks SET status = ?, scheduled_ms = NULL, progress = 0, worker = NULL
                    WHERE status = ? {scope}""",
                (*_REQUEUE, *params),
            ).rowcount
        return failed + requeued

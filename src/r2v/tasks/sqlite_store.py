"""TaskStore on the embedded SQLite database. Every state change is one conditional UPDATE, so a cancel and a
claim (or a stale worker and a live one) can never both win."""

from __future__ import annotations

import sqlite3

from r2v.db import Database
from r2v.errors import INTERNAL_ERROR
from r2v.tasks.model import MAX_ATTEMPTS, ListFilter, Task, TaskStatus
from r2v.tasks.store import TaskStore

_COLUMNS = (
    "task_id, owner, request_id, model, status, submit_ms, scheduled_ms, end_ms, spec_json, orig_prompt, "
    "actual_prompt, region, progress, attempt, code, message, result_name, usage_json"
)


def _task(row: sqlite3.Row) -> Task:
    data = dict(row)
    data["status"] = TaskStatus(data["status"])
    return Task(**data)


class SqliteTaskStore(TaskStore):
    def __init__(self, db: Database):
        self.db = db

    def create(self, task: Task) -> None:
        self.db.execute(
            f"INSERT INTO tasks ({_COLUMNS}) VALUES ({', '.join('?' * 18)})",
            (
                task.task_id, task.owner, task.request_id, task.model, task.status.value, task.submit_ms,
                task.scheduled_ms, task.end_ms, task.spec_json, task.orig_prompt, task.actual_prompt, task.region,
                task.progress, task.attempt, task.code, task.message, task.result_name, task.usage_json,
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

    def cancel_pending(self, task_id: str, owner: str, now_ms: int) -> bool:
        cur = self.db.execute(
            "UPDATE tasks SET status = 'CANCELED', end_ms = ? WHERE task_id = ? AND owner = ? AND status = 'PENDING'",
            (now_ms, task_id, owner),
        )
        return cur.rowcount == 1

    def request_cancel_running(self, task_id: str, owner: str) -> bool:
        cur = self.db.execute(
            """INSERT OR IGNORE INTO cancel_requests (task_id)
               SELECT task_id FROM tasks WHERE task_id = ? AND owner = ? AND status = 'RUNNING'""",
            (task_id, owner),
        )
        return cur.rowcount == 1 or self.cancel_requested(task_id)

    def cancel_requested(self, task_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM cancel_requests WHERE task_id = ?", (task_id,)).fetchone() is not None

    def cancel_running(self, task_id: str, attempt: int, now_ms: int) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                """UPDATE tasks SET status = 'CANCELED', end_ms = ?, worker = NULL
                   WHERE task_id = ? AND attempt = ? AND status = 'RUNNING'""",
                (now_ms, task_id, attempt),
            )
            conn.execute("DELETE FROM cancel_requests WHERE task_id = ?", (task_id,))
        return cur.rowcount == 1

    def claim_next(self, worker: str, now_ms: int, per_owner_running: int | None) -> Task | None:
        limit = per_owner_running if per_owner_running is not None else -1  # -1: no cap
        with self.db.transaction() as conn:
            row = conn.execute(
                """SELECT task_id FROM tasks AS t WHERE status = 'PENDING'
                   AND (? < 0 OR (SELECT count(*) FROM tasks AS r WHERE r.owner = t.owner AND r.status = 'RUNNING') < ?)
                   ORDER BY submit_ms, rowid LIMIT 1""",
                (limit, limit),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                """UPDATE tasks SET status = 'RUNNING', scheduled_ms = ?, attempt = attempt + 1, worker = ?,
                   progress = 0 WHERE task_id = ? AND status = 'PENDING'""",
                (now_ms, worker, row["task_id"]),
            )
            claimed = conn.execute(f"SELECT {_COLUMNS} FROM tasks WHERE task_id = ?", (row["task_id"],)).fetchone()
        return _task(claimed)

    def set_plan(self, task_id: str, attempt: int, plan_json: str) -> None:
        with self.db.transaction() as conn:
            running = conn.execute(
                "SELECT 1 FROM tasks WHERE task_id = ? AND attempt = ? AND status = 'RUNNING'", (task_id, attempt)
            ).fetchone()
            if running:
                conn.execute("INSERT OR REPLACE INTO plans (task_id, plan_json) VALUES (?, ?)", (task_id, plan_json))

    def get_plan(self, task_id: str) -> str | None:
        row = self.db.execute("SELECT plan_json FROM plans WHERE task_id = ?", (task_id,)).fetchone()
        return row["plan_json"] if row else None

    def set_progress(self, task_id: str, attempt: int, progress: int) -> None:
        self.db.execute(
            "UPDATE tasks SET progress = ? WHERE task_id = ? AND attempt = ? AND status = 'RUNNING'",
            (progress, task_id, attempt),
        )

    def succeed(self, task_id, attempt, now_ms, result_name, usage_json, actual_prompt) -> bool:
        cur = self.db.execute(
            """UPDATE tasks SET status = 'SUCCEEDED', end_ms = ?, result_name = ?, usage_json = ?,
               actual_prompt = ?, progress = 100, worker = NULL
               WHERE task_id = ? AND attempt = ? AND status = 'RUNNING'""",
            (now_ms, result_name, usage_json, actual_prompt, task_id, attempt),
        )
        return cur.rowcount == 1

    def fail(self, task_id, attempt, now_ms, code, message) -> bool:
        sql = "UPDATE tasks SET status = 'FAILED', end_ms = ?, code = ?, message = ?, worker = NULL " \
              "WHERE task_id = ? AND status = 'RUNNING'"  # fmt: skip
        params: tuple = (now_ms, code, message, task_id)
        if attempt is not None:
            sql += " AND attempt = ?"
            params += (attempt,)
        return self.db.execute(sql, params).rowcount == 1

    def fail_overdue(self, worker: str, started_before_ms: int, now_ms: int, message: str) -> bool:
        cur = self.db.execute(
            """UPDATE tasks SET status = 'FAILED', end_ms = ?, code = ?, message = ?, worker = NULL
               WHERE worker = ? AND status = 'RUNNING' AND scheduled_ms < ?""",
            (now_ms, INTERNAL_ERROR, message, worker, started_before_ms),
        )
        return cur.rowcount > 0

    def delete_finished_before(self, before_ms: int) -> list[str]:
        # Measured from the end of the task when it has one: its result URL is valid 24 h from then.
        rows = self.db.execute(
            "DELETE FROM tasks WHERE coalesce(end_ms, submit_ms) < ? AND status != 'RUNNING' RETURNING task_id",
            (before_ms,),
        ).fetchall()
        return [r["task_id"] for r in rows]

    def release_running(self, worker: str) -> int:
        # The attempt goes back too, so the next claim runs it under the same number; the fencing that the
        # attempt number gives holds, because the worker that ran it has ended.
        return self.db.execute(
            """UPDATE tasks SET status = 'PENDING', scheduled_ms = NULL, progress = 0, worker = NULL,
               attempt = attempt - 1 WHERE status = 'RUNNING' AND worker = ?""",
            (worker,),
        ).rowcount

    def requeue_running(self, now_ms: int, worker: str | None = None) -> int:
        scope, params = ("AND worker = ?", (worker,)) if worker else ("", ())
        with self.db.transaction() as conn:
            failed = conn.execute(
                f"""UPDATE tasks SET status = 'FAILED', end_ms = ?, code = ?, message = ?, worker = NULL
                    WHERE status = 'RUNNING' AND attempt >= ? {scope}""",
                (now_ms, INTERNAL_ERROR, f"rendering was interrupted {MAX_ATTEMPTS} times", MAX_ATTEMPTS, *params),
            ).rowcount
            requeued = conn.execute(
                f"""UPDATE tasks SET status = 'PENDING', scheduled_ms = NULL, progress = 0, worker = NULL
                    WHERE status = 'RUNNING' {scope}""",
                params,
            ).rowcount
        return failed + requeued

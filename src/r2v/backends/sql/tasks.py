"""TaskStore in SQL, for SQLite and PostgreSQL alike. Every state change is one conditional UPDATE along an edge of
the state machine (tasks.model.TRANSITIONS), so a cancel and a claim (or a stale worker and a live one) can never
both win. A database package subclasses it only where its dialect differs (how a claim locks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from r2v.backends.sql.database import Executor, SqlDatabase
from r2v.errors import INTERNAL_ERROR
from r2v.tasks.model import MAX_ATTEMPTS, ListFilter, Task, TaskStatus, transition
from r2v.tasks.store import OwnerBusy, TaskStore

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
FAILED = TaskStatus.FAILED.value
TERMINAL_RAN = (TaskStatus.SUCCEEDED.value, TaskStatus.FAILED.value, TaskStatus.CANCELED.value)


def _task(row: dict[str, Any]) -> Task:
    data = dict(row)
    data["status"] = TaskStatus(data["status"])
    return Task(**data)


class SqlTaskStore(TaskStore):
    # Appended to the SELECTs that pick a task to claim: PostgreSQL locks the row (claim_next skips rows other
    # workers are claiming); SQLite's write transaction already excludes every other writer.
    claim_lock = ""
    row_lock = ""

    def __init__(self, db: SqlDatabase):
        self.db = db

    def lock_owner(self, tx: Executor, owner: str) -> None:
        """Serialise claims of one key's tasks inside a claim's transaction, so that the per-key running cap holds
        between workers (SQLite's transactions are serial already)."""

    def create(self, task: Task) -> None:
        self._insert(self.db, task)

    def _insert(self, tx: Executor, task: Task) -> None:
        tx.execute(
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
        total = self.db.execute(f"SELECT count(*) AS n FROM tasks WHERE {clause}", tuple(params)).fetchone()["n"]
        order = self.db.insertion_order
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM tasks WHERE {clause} ORDER BY submit_ms DESC, {order} DESC LIMIT ? OFFSET ?",
            (*params, flt.page_size, (flt.page_no - 1) * flt.page_size),
        ).fetchall()
        return total, [_task(r) for r in rows]

    def check(self) -> None:
        self.db.execute("SELECT 1 AS ok")

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, count(*) AS n FROM tasks GROUP BY status").fetchall()
        return {r["status"]: r["n"] for r in rows}

    def failures_by_code(self) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT code, count(*) AS n FROM tasks WHERE status = ? GROUP BY code", (FAILED,)
        ).fetchall()
        return {r["code"] or INTERNAL_ERROR: r["n"] for r in rows}

    def render_durations(self, bounds_ms: Sequence[int]) -> dict[str, tuple[list[int], int, int]]:
        # One pass over the kept tasks, counted in the database: a scrape must not carry every row to the API.
        # (The bounds are integers from the caller's code, never from a request: formatted into the SQL.)
        took = "(end_ms - scheduled_ms)"
        buckets = ", ".join(f"sum(CASE WHEN {took} <= {int(b)} THEN 1 ELSE 0 END) AS le{i}"
                            for i, b in enumerate(bounds_ms))  # fmt: skip
        rows = self.db.execute(
            f"""SELECT status, {buckets}{", " if buckets else ""}count(*) AS n, sum({took}) AS total FROM tasks
                WHERE status IN (?, ?, ?) AND scheduled_ms IS NOT NULL AND end_ms IS NOT NULL GROUP BY status""",
            TERMINAL_RAN,
        ).fetchall()
        return {r["status"]: ([int(r[f"le{i}"]) for i in range(len(bounds_ms))], int(r["n"]), int(r["total"] or 0))
                for r in rows}  # fmt: skip

    def cancel_pending(self, task_id: str, owner: str, now_ms: int) -> bool:
        cur = self.db.execute(
            "UPDATE tasks SET status = ?, end_ms = ? WHERE task_id = ? AND owner = ? AND status = ?",
            (_CANCEL_PENDING[0], now_ms, task_id, owner, _CANCEL_PENDING[1]),
        )
        return cur.rowcount == 1

    def request_cancel_running(self, task_id: str, owner: str) -> bool:
        cur = self.db.execute(
            """INSERT INTO cancel_requests (task_id)
               SELECT task_id FROM tasks WHERE task_id = ? AND owner = ? AND status = ?
               ON CONFLICT DO NOTHING""",
            (task_id, owner, RUNNING),
        )
        return cur.rowcount == 1 or self.cancel_requested(task_id)

    def cancel_requested(self, task_id: str) -> bool:
        row = self.db.execute("SELECT 1 AS yes FROM cancel_requests WHERE task_id = ?", (task_id,)).fetchone()
        return row is not None

    def cancel_running(self, task_id: str, attempt: int, now_ms: int) -> bool:
        with self.db.transaction() as tx:
            cur = tx.execute(
                """UPDATE tasks SET status = ?, end_ms = ?, worker = NULL
                   WHERE task_id = ? AND attempt = ? AND status = ?""",
                (_CANCEL_RUNNING[0], now_ms, task_id, attempt, _CANCEL_RUNNING[1]),
            )
            tx.execute("DELETE FROM cancel_requests WHERE task_id = ?", (task_id,))
        return cur.rowcount == 1

    def claim_next(self, worker: str, now_ms: int, per_owner_running: int | None) -> Task | None:
        limit = per_owner_running if per_owner_running is not None else -1  # -1: no cap
        with self.db.transaction() as tx:
            row = tx.execute(
                f"""SELECT task_id, owner FROM tasks AS t WHERE status = ?
                    AND (? < 0 OR (SELECT count(*) FROM tasks AS r WHERE r.owner = t.owner AND r.status = ?) < ?)
                    ORDER BY submit_ms, {self.db.insertion_order} LIMIT 1{self.claim_lock}""",
                (_CLAIM[1], limit, RUNNING, limit),
            ).fetchone()
            if row is None or self._owner_at_cap(tx, row["owner"], per_owner_running):
                return None
            return self._start(tx, row["task_id"], worker, now_ms)

    def claim(self, task_id: str, worker: str, now_ms: int, per_owner_running: int | None) -> Task | None:
        with self.db.transaction() as tx:
            row = tx.execute(
                f"SELECT owner FROM tasks WHERE task_id = ? AND status = ?{self.row_lock}", (task_id, _CLAIM[1])
            ).fetchone()
            if row is None:
                return None
            if self._owner_at_cap(tx, row["owner"], per_owner_running):
                raise OwnerBusy(task_id)
            return self._start(tx, task_id, worker, now_ms)

    def _owner_at_cap(self, tx: Executor, owner: str, cap: int | None) -> bool:
        if cap is None:
            return False
        self.lock_owner(tx, owner)
        running = tx.execute(
            "SELECT count(*) AS n FROM tasks WHERE owner = ? AND status = ?", (owner, RUNNING)
        ).fetchone()["n"]
        return running >= cap

    def _start(self, tx: Executor, task_id: str, worker: str, now_ms: int) -> Task | None:
        done = tx.execute(
            """UPDATE tasks SET status = ?, scheduled_ms = ?, attempt = attempt + 1, worker = ?,
               progress = 0 WHERE task_id = ? AND status = ?""",
            (_CLAIM[0], now_ms, worker, task_id, _CLAIM[1]),
        )
        if done.rowcount != 1:
            return None
        return _task(tx.execute(f"SELECT {_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)).fetchone())

    def set_plan(self, task_id: str, attempt: int, plan_json: str) -> None:
        self.db.execute(
            """INSERT INTO plans (task_id, plan_json)
               SELECT task_id, ? FROM tasks WHERE task_id = ? AND attempt = ? AND status = ?
               ON CONFLICT (task_id) DO UPDATE SET plan_json = excluded.plan_json""",
            (plan_json, task_id, attempt, RUNNING),
        )

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

    def delete_task(self, task_id: str, owner: str) -> bool:
        cur = self.db.execute("DELETE FROM tasks WHERE task_id = ? AND owner = ? AND status != ?",
                              (task_id, owner, RUNNING))  # fmt: skip
        return cur.rowcount == 1

    def delete_finished_before(self, before_ms: int) -> list[str]:
        # Measured from the end of the task when it has one: its result URL is valid 24 h from then.
        rows = self.db.execute(
            "DELETE FROM tasks WHERE coalesce(end_ms, submit_ms) < ? AND status != ? RETURNING task_id",
            (before_ms, RUNNING),
        ).fetchall()
        return [r["task_id"] for r in rows]

    def backdate(self, task_id: str, by_ms: int) -> bool:
        cur = self.db.execute(
            "UPDATE tasks SET submit_ms = submit_ms - ?, scheduled_ms = scheduled_ms - ?, end_ms = end_ms - ? "
            "WHERE task_id = ?",
            (by_ms, by_ms, by_ms, task_id),
        )
        return cur.rowcount == 1

    def release_running(self, worker: str) -> int:
        # The attempt goes back too, so the next claim runs it under the same number; the fencing that the
        # attempt number gives holds, because the worker that ran it has ended.
        return self.db.execute(
            """UPDATE tasks SET status = ?, scheduled_ms = NULL, progress = 0, worker = NULL,
               attempt = attempt - 1 WHERE status = ? AND worker = ?""",
            (*_REQUEUE, worker),
        ).rowcount

    def release_task(self, task_id: str, attempt: int) -> bool:
        return (
            self.db.execute(
                """UPDATE tasks SET status = ?, scheduled_ms = NULL, progress = 0, worker = NULL,
               attempt = attempt - 1 WHERE status = ? AND task_id = ? AND attempt = ?""",
                (*_REQUEUE, task_id, attempt),
            ).rowcount
            == 1
        )

    def requeue_running(self, now_ms: int, worker: str | None = None) -> int:
        scope, params = ("AND worker = ?", (worker,)) if worker else ("", ())
        return self._requeue(now_ms, scope, params)

    def requeue_task(self, task_id: str, now_ms: int) -> bool:
        return self._requeue(now_ms, "AND task_id = ?", (task_id,)) > 0

    def _requeue(self, now_ms: int, scope: str, params: tuple) -> int:
        with self.db.transaction() as tx:
            failed = tx.execute(
                f"""UPDATE tasks SET status = ?, end_ms = ?, code = ?, message = ?, worker = NULL
                    WHERE status = ? AND attempt >= ? {scope}""",
                (
                    _FAIL[0],
                    now_ms,
                    INTERNAL_ERROR,
                    f"rendering was interrupted {MAX_ATTEMPTS} times",
                    _FAIL[1],
                    MAX_ATTEMPTS,
                    *params,
                ),  # fmt: skip
            ).rowcount
            requeued = tx.execute(
                f"""UPDATE tasks SET status = ?, scheduled_ms = NULL, progress = 0, worker = NULL
                    WHERE status = ? {scope}""",
                (*_REQUEUE, *params),
            ).rowcount
        return failed + requeued

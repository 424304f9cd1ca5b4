"""TaskStore on PostgreSQL: the SQL store, with row locks for claims, an advisory lock per key for the running cap,
and a procrastinate job beside every task, written in the same transaction as the task's own row."""

from __future__ import annotations

from r2v.backends.postgres.database import PgDatabase
from r2v.backends.postgres.jobs import RenderJobs
from r2v.backends.sql.database import Executor
from r2v.backends.sql.tasks import SqlTaskStore
from r2v.tasks.model import Task, TaskStatus, transition

_CANCEL_PENDING = transition(TaskStatus.PENDING, TaskStatus.CANCELED)


class PostgresTaskStore(SqlTaskStore):
    claim_lock = " FOR UPDATE SKIP LOCKED"  # claim_next: another worker's candidate is skipped, not waited for
    row_lock = " FOR UPDATE"

    def __init__(self, db: PgDatabase, jobs: RenderJobs):
        super().__init__(db)
        self.jobs = jobs

    def lock_owner(self, tx: Executor, owner: str) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (owner,))

    def create(self, task: Task) -> None:
        with self.db.transaction() as tx:
            self._insert(tx, task)
            if task.status == TaskStatus.PENDING:
                job_id = self.jobs.defer(tx.connection, task.task_id)
                tx.execute("UPDATE tasks SET job_id = ? WHERE task_id = ?", (job_id, task.task_id))

    def cancel_pending(self, task_id: str, owner: str, now_ms: int) -> bool:
        with self.db.transaction() as tx:
            row = tx.execute(
                "UPDATE tasks SET status = ?, end_ms = ? WHERE task_id = ? AND owner = ? AND status = ? "
                "RETURNING job_id",
                (_CANCEL_PENDING[0], now_ms, task_id, owner, _CANCEL_PENDING[1]),
            ).fetchone()
            if row and row["job_id"] is not None:
                self.jobs.cancel(tx.connection, row["job_id"], abort=False)
        return row is not None

    def request_cancel_running(self, task_id: str, owner: str) -> bool:
        if not super().request_cancel_running(task_id, owner):
            return False
        with self.db.transaction() as tx:
            row = tx.execute("SELECT job_id FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
            if row and row["job_id"] is not None:
                self.jobs.cancel(tx.connection, row["job_id"], abort=True)  # the worker's should_abort() says so
        return True

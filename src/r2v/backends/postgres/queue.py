"""The WorkQueue port on procrastinate: how `r2v worker` (and, for the upkeep only, `r2v serve`) take jobs.

Two procrastinate workers run in one process: one on the render queue (`concurrency` renders at once, woken by
LISTEN/NOTIFY, sending a heartbeat every 10 s) and one on the upkeep queue, so that long renders never hold up the
upkeep. The upkeep is made of periodic jobs, each deferred once per tick for the whole cluster:
- recovery, every 5 s: the render jobs of workers whose heartbeat is older than STALLED_AFTER_S (a SIGKILL, a lost
  machine) go back to the queue, their tasks back to PENDING (or FAILED once they used up their attempts), and any
  task whose job was lost gets a new one;
- retention, every minute (the caller's upkeep: rows, then objects).

When the database goes away, procrastinate's workers stop; they are started again every RECONNECT_S until it is
back."""

from __future__ import annotations

import asyncio
import logging
import threading

from procrastinate.job_context import AbortReason, JobContext
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.worker import Worker

from r2v.backends.postgres.database import PgDatabase
from r2v.backends.postgres.jobs import LIVE, RENDER_QUEUE, RENDER_TASK, UPKEEP_QUEUE, RenderJobs, make_app
from r2v.backends.postgres.tasks import PostgresTaskStore
from r2v.clock import Clock
from r2v.errors import BackendUnavailable
from r2v.tasks.queue import JobSignals, RenderHandler, RetryLater, WorkQueue

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
STALLED_AFTER_S = 30.0  # a worker silent this long is dead: its tasks are taken over (within 60 s of its last beat)
RECOVERY_CRON = "* * * * * */5"  # procrastinate's sixth column: seconds
RETENTION_CRON = "* * * * *"
RECONNECT_S = 2.0


class RenderRetry(BaseRetryStrategy):
    """When a render job runs again: RetryLater says when (a key at its cap, a worker stopping: at once; a backend
    away: later); a database error that escaped the task's bookkeeping backs off up to a minute. Any other error
    has been recorded on the task already: the job ends."""

    def get_retry_decision(self, *, exception: BaseException, job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_in={"seconds": exception.delay_s})
        if isinstance(exception, BackendUnavailable):
            return RetryDecision(retry_in={"seconds": min(60, 2 ** min(job.attempts, 6))})
        return None


class ProcrastinateQueue(WorkQueue):
    def __init__(self, url: str, db: PgDatabase, tasks: PostgresTaskStore, clock: Clock):
        self.app = make_app(url)
        self.db = db
        self.tasks = tasks
        self.clock = clock
        # Jobs deferred from the upkeep go through an app of their own, never opened: it defers on the caller's
        # connection, synchronously (the worker's app, once opened, would use its asyncio pool instead).
        self.jobs = RenderJobs(make_app(url))
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[Worker] = []

    # -- the jobs ---------------------------------------------------------------------------------------------

    def _register(self, render: RenderHandler | None, upkeep) -> None:
        app = self.app
        if render is not None:

            def render_job(context: JobContext, task_id: str) -> None:
                signals = JobSignals(
                    abort_requested=lambda: context.abort_reason() == AbortReason.USER_REQUEST,
                    stopping=lambda: context.abort_reason() == AbortReason.SHUTDOWN or self._stop.is_set(),
                )
                render(task_id, signals)

            app.task(name=RENDER_TASK, queue=RENDER_QUEUE, pass_context=True, retry=RenderRetry())(render_job)

        def recover(timestamp: int) -> None:
            self.recover()

        def retention(timestamp: int) -> None:
            upkeep()

        for name, cron, func in (("r2v.recover", RECOVERY_CRON, recover), ("r2v.retention", RETENTION_CRON, retention)):
            task = app.task(name=name, queue=UPKEEP_QUEUE)(func)
            app.periodic(cron=cron, periodic_id=name)(task)

    def recover(self) -> int:
        """Take over the tasks of dead workers, and give a job to any live task that lost its own. Returns how
        many tasks were touched."""
        now = self.clock.now_ms()
        touched = 0
        for job in self._stalled_jobs():
            task_id = job["args"]["task_id"]
            log.warning("task %s: its worker stopped sending heartbeats; queueing it again", task_id)
            self.tasks.requeue_task(task_id, now)
            touched += self._new_job(task_id)
        # A live task whose job ended without it (its worker lost the database at the wrong moment) or vanished.
        orphans = self.db.execute(
            """SELECT t.task_id FROM tasks AS t LEFT JOIN procrastinate_jobs AS j ON j.id = t.job_id
               WHERE t.status IN ('PENDING', 'RUNNING') AND (j.id IS NULL OR j.status NOT IN (?, ?))""",
            LIVE,
        ).fetchall()
        for row in orphans:
            log.warning("task %s had no live job; queueing it again", row["task_id"])
            self.tasks.requeue_task(row["task_id"], now)
            touched += self._new_job(row["task_id"])
        return touched

    def _stalled_jobs(self) -> list[dict]:
        return self.db.execute(
            """SELECT j.id, j.args FROM procrastinate_jobs AS j
               LEFT JOIN procrastinate_workers AS w ON w.id = j.worker_id
               WHERE j.status = 'doing' AND j.task_name = ?
               AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => ?))""",
            (RENDER_TASK, STALLED_AFTER_S),
        ).fetchall()

    def _new_job(self, task_id: str) -> int:
        """End the task's old job and defer a new one, if the task is PENDING again."""
        with self.db.transaction() as tx:
            row = tx.execute("SELECT status, job_id FROM tasks WHERE task_id = ? FOR UPDATE", (task_id,)).fetchone()
            if row is None:
                return 0
            if row["job_id"] is not None:
                tx.execute(
                    "UPDATE procrastinate_jobs SET status = 'failed' WHERE id = ? AND status IN (?, ?)",
                    (row["job_id"], *LIVE),
                )
            if row["status"] != "PENDING":
                return 1
            job_id = self.jobs.defer(tx.connection, task_id)
            tx.execute("UPDATE tasks SET job_id = ? WHERE task_id = ?", (job_id, task_id))
        return 1

    # -- serving ----------------------------------------------------------------------------------------------

    def serve(self, render: RenderHandler | None, upkeep, concurrency: int) -> None:
        self._register(render, upkeep)
        while not self._stop.is_set():
            try:
                asyncio.run(self._run(render is not None, concurrency))
            except Exception as exc:  # noqa: BLE001 - the database went away: start again once it is back
                log.warning("queue workers stopped (%s); starting again in %g s", exc, RECONNECT_S)
            self._stop.wait(RECONNECT_S)

    async def _run(self, renders: bool, concurrency: int) -> None:
        async with self.app.open_async():
            common = dict(install_signal_handlers=False, update_heartbeat_interval=HEARTBEAT_S,
                          stalled_worker_timeout=STALLED_AFTER_S)  # fmt: skip
            workers = [Worker(self.app, queues=[UPKEEP_QUEUE], name="r2v-upkeep", concurrency=1, **common)]
            if renders:
                # A stopping worker hands its renders back at once (they cannot be paused), as `r2v serve` does.
                workers.append(Worker(self.app, queues=[RENDER_QUEUE], name="r2v-render", concurrency=concurrency,
                                      shutdown_graceful_timeout=0, **common))  # fmt: skip
            self._loop, self._workers = asyncio.get_running_loop(), workers
            if self._stop.is_set():
                return
            running = [asyncio.create_task(w.run()) for w in workers]
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for worker in workers:  # one stopped (asked to, or the database went away): stop the other too
                worker.stop()
            await asyncio.gather(*running, return_exceptions=True)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()

    def stop(self) -> None:
        self._stop.set()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            for worker in self._workers:
                try:
                    loop.call_soon_threadsafe(worker.stop)
                except RuntimeError:  # the loop closed meanwhile
                    pass

"""The procrastinate side of a task: one job per task on the render queue, deferred, canceled and aborted on the
caller's own connection, so that the job and the task's row commit together."""

from __future__ import annotations

import procrastinate
from procrastinate.jobs import Status

RENDER_TASK = "r2v.render"
RENDER_QUEUE = "r2v-render"
UPKEEP_QUEUE = "r2v-upkeep"
# Job statuses in which a job will still run its task (or is running it).
LIVE = (Status.TODO.value, Status.DOING.value)


def make_app(url: str) -> procrastinate.App:
    """A procrastinate app on the cluster's database. Its connector's pool opens only in a worker; the API side
    uses the callers' connections."""
    return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url, kwargs={"connect_timeout": 3}))


class RenderJobs:
    def __init__(self, app: procrastinate.App):
        self.app = app

    def defer(self, connection, task_id: str) -> int:
        """The job that renders `task_id`. Its lock keeps two jobs of one task from ever running at once, its
        queueing lock from ever waiting twice."""
        deferrer = self.app.configure_task(name=RENDER_TASK, queue=RENDER_QUEUE, lock=task_id, queueing_lock=task_id,
                                           connection=connection)  # fmt: skip
        return deferrer.defer(task_id=task_id)

    def cancel(self, connection, job_id: int, abort: bool) -> bool:
        """A waiting job is canceled; a running one (abort=True) is asked to stop."""
        return self.app.job_manager.cancel_job_by_id(job_id, abort=abort, connection=connection)

"""Running one claimed task: the pipeline plus the bookkeeping around it (progress, final state).

Shared by the worker processes of `r2v serve` and by `r2v generate`."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from r2v.clock import Clock
from r2v.engines import EngineSet
from r2v.engines.base import RenderCancelled
from r2v.errors import INTERNAL_ERROR, MSG_INTERNAL, BackendUnavailable, TaskFailure
from r2v.media.fetch import FetchPolicy, MediaResolver
from r2v.protocol.job import JobSpec
from r2v.storage.blobs import BlobStore
from r2v.storage.uploads import UploadRegistry
from r2v.tasks.model import Task
from r2v.tasks.queue import JobSignals, RetryLater
from r2v.tasks.store import TaskStore
from r2v.worker.pipeline import JobRules, run_job

log = logging.getLogger(__name__)

BACKEND_RETRY_S = 15.0  # a task handed back because a backend is away runs again this much later


@dataclass
class TaskRunner:
    store: TaskStore
    blobs: BlobStore
    uploads: UploadRegistry
    clock: Clock
    engines: EngineSet
    scratch: Path  # a local folder for the files of the job in progress
    fetch_policy: FetchPolicy = field(default_factory=FetchPolicy)
    rules: JobRules = field(default_factory=JobRules)

    def warm_up(self) -> None:
        """Load and warm every configured engine now, so that the first task does not wait for it."""
        self.engines.warm_up()

    def run(self, task: Task, signals: JobSignals | None = None) -> None:
        """Render a claimed task and record how it ended. With `signals` (a cluster worker), the queue can abort
        the render (a user's cancel) or take it back (the worker is stopping: RetryLater, after the task went
        back to PENDING without using up an attempt)."""
        try:
            spec = JobSpec.from_dict(json.loads(task.spec_json))
        except ValueError as exc:  # stored by a newer r2v than this worker's
            log.error("task %s: %s", task.task_id, exc)
            self.store.fail(task.task_id, task.attempt, self.clock.now_ms(), INTERNAL_ERROR, MSG_INTERNAL)
            return
        resolver = MediaResolver(
            blobs=self.blobs,
            uploads=self.uploads,
            owner=task.owner,
            now_ms=self.clock.now_ms(),
            policy=self.fetch_policy,
        )
        last = {"value": 0, "at": 0.0}

        def progress(fraction: float) -> None:
            value = max(0, min(99, int(fraction * 100)))
            now = time.monotonic()
            if value > last["value"] and (now - last["at"] > 0.5 or value - last["value"] >= 10):
                last.update(value=value, at=now)
                try:
                    self.store.set_progress(task.task_id, task.attempt, value)
                except BackendUnavailable:  # progress is a hint: a database blink must not cost the render
                    log.warning("task %s: progress not recorded (database unavailable)", task.task_id)

        asked = {"at": 0.0, "value": False}

        def cancelled() -> bool:  # the store is asked at most twice a second
            if signals is not None and (signals.stopping() or signals.abort_requested()):
                return True
            now = time.monotonic()
            if not asked["value"] and now - asked["at"] > 0.5:
                try:
                    asked.update(at=now, value=self.store.cancel_requested(task.task_id))
                except BackendUnavailable:
                    asked.update(at=now)
            return asked["value"]

        try:
            outcome = run_job(
                task.task_id,
                spec,
                resolver,
                self.blobs,
                self.scratch,
                self.engines.for_model(task.model),
                progress,
                self.rules,
                on_plan=lambda plan: self.store.set_plan(task.task_id, task.attempt, json.dumps(plan.to_dict())),
                cancelled=cancelled,
                attempt=task.attempt,
            )
        except RenderCancelled:
            if signals is not None and signals.stopping():
                if self.store.release_task(task.task_id, task.attempt):
                    log.info("task %s handed back: this worker is stopping", task.task_id)
                    raise RetryLater(task.task_id) from None
                return  # it had ended meanwhile (failed past a limit, canceled): nothing to hand back
            if self.store.cancel_running(task.task_id, task.attempt, self.clock.now_ms()):
                log.info("task %s canceled while running", task.task_id)
            return
        except TaskFailure as failure:
            log.info("task %s failed: %s", task.task_id, failure)
            self.store.fail(task.task_id, task.attempt, self.clock.now_ms(), failure.code, failure.message)
            return
        except BackendUnavailable as exc:
            # The object store or the database is away: not the task's fault. Hand it back to the queue without
            # using up an attempt; if even that cannot be written, the queue's recovery takes the task over.
            log.warning("task %s handed back: %s", task.task_id, exc)
            if signals is None or not self.store.release_task(task.task_id, task.attempt):
                raise
            raise RetryLater(task.task_id, BACKEND_RETRY_S) from exc
        except Exception:
            log.exception("task %s: internal error", task.task_id)
            self.store.fail(task.task_id, task.attempt, self.clock.now_ms(), INTERNAL_ERROR, MSG_INTERNAL)
            return
        done = self.store.succeed(
            task.task_id,
            task.attempt,
            self.clock.now_ms(),
            outcome.result_name,
            json.dumps(outcome.usage),
            outcome.actual_prompt,
        )
        if not done:  # another attempt owns the task now: this one's video must not linger beside it
            log.warning("task %s attempt %s finished after it was taken from this worker", task.task_id, task.attempt)
            self.blobs.delete(outcome.result_name)

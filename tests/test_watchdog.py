"""The render limits of an `r2v worker` (worker/watchdog.py), on a real SQLite task store with the time and the
process's memory under the test's control. The end-to-end behaviour (a real worker failing a long render and taking
the next one) is in test_cluster.py."""

from __future__ import annotations

import pytest

from r2v.clock import FakeClock
from r2v.tasks.model import Task, TaskStatus
from r2v.worker.watchdog import EXIT_STUCK, RenderLimits, Watchdog
from tests.backends import components

pytestmark = pytest.mark.unit

LIMITS = RenderLimits(task_timeout_s=60, memory_mb=500, grace_s=30)


class Harness:
    def __init__(self, tmp_path):
        self.store = components(tmp_path / "db", database="sqlite").tasks
        self.now = 0.0
        self.memory_mb = 1000.0  # the warm process
        self.exits: list[int] = []
        self.restarts = 0
        self.watchdog = Watchdog(LIMITS, self.store, FakeClock(), memory=lambda: self.memory_mb,
                                 exit=self.exits.append, on_memory_limit=self._restart,
                                 monotonic=lambda: self.now)  # fmt: skip
        self.watchdog._baseline_mb = self.memory_mb  # as start() records it, without its thread

    def _restart(self) -> None:
        self.restarts += 1

    def running(self, task_id: str) -> Task:
        self.store.create(Task(task_id=task_id, owner="alice", request_id="r", model="wan2.7-r2v",
                               status=TaskStatus.PENDING, submit_ms=1, spec_json="{}", orig_prompt="图1",
                               region="cn-beijing"))  # fmt: skip
        claimed = self.store.claim(task_id, "w1", 2, None)
        assert claimed is not None
        return claimed

    def at(self, now: float) -> None:
        """A watchdog pass at monotonic time `now`."""
        self.now = now
        self.watchdog.check()

    def status(self, task_id: str) -> tuple[TaskStatus, str | None]:
        task = self.store.get(task_id)
        return task.status, task.message


@pytest.fixture
def harness(tmp_path):
    return Harness(tmp_path)


def test_a_render_past_the_time_limit_is_failed_and_asked_to_stop(harness):
    task = harness.running("t1")
    over = harness.watchdog.begin(task)
    harness.now = 60
    harness.watchdog.check()
    assert not over() and harness.status("t1")[0] is TaskStatus.RUNNING  # at the limit, not past it
    harness.now = 61
    harness.watchdog.check()
    status, message = harness.status("t1")
    assert status is TaskStatus.FAILED and message == "rendering took longer than the 60 s limit (R2V_TASK_TIMEOUT_S)"
    assert over() and harness.exits == [] and harness.restarts == 0


def test_a_failed_render_that_stops_in_time_costs_the_process_nothing(harness):
    task = harness.running("t1")
    harness.watchdog.begin(task)
    harness.at(61)
    harness.now = 80
    harness.watchdog.end(task)  # it saw the request and stopped
    harness.at(200)
    assert harness.exits == []


def test_a_render_that_ignores_its_failure_past_the_grace_exits_the_process(harness):
    task = harness.running("t1")
    harness.watchdog.begin(task)
    harness.at(61)
    harness.at(91)
    assert harness.exits == []  # 30 s of grace, not more
    harness.at(92)
    assert harness.exits == [EXIT_STUCK]


def test_memory_grown_past_the_limit_fails_every_render_in_progress_and_restarts_the_worker(harness):
    first, second, done = harness.running("t1"), harness.running("t2"), harness.running("t3")
    over_first, over_second = harness.watchdog.begin(first), harness.watchdog.begin(second)
    harness.watchdog.begin(done)
    harness.watchdog.end(done)
    harness.memory_mb = 1500  # +500 MB: at the limit
    harness.watchdog.check()
    assert not over_first() and harness.restarts == 0
    harness.memory_mb = 1501
    harness.watchdog.check()
    message = "rendering used more than the 500 MB memory limit (R2V_WORKER_MEMORY_MB)"
    assert harness.status("t1") == (TaskStatus.FAILED, message) == harness.status("t2")
    assert over_first() and over_second() and harness.restarts == 1
    assert harness.status("t3")[0] is TaskStatus.RUNNING  # it had ended: not the watchdog's to judge


def test_an_idle_worker_is_not_judged_by_its_memory(harness):
    harness.memory_mb = 9000
    harness.watchdog.check()
    assert harness.restarts == 0 and harness.exits == []


def test_a_render_canceled_meanwhile_is_not_overwritten(harness):
    task = harness.running("t1")
    harness.watchdog.begin(task)
    assert harness.store.cancel_running("t1", task.attempt, 5)
    harness.now = 61
    harness.watchdog.check()
    assert harness.status("t1")[0] is TaskStatus.CANCELED

"""The TaskStore contract, run on every database backend (tests/backends.py): every state change is one
conditional update along an edge of the state machine (tasks.model.TRANSITIONS), so a cancel and a claim (or a stale
attempt and the live one) never both win; listing, the per-key running cap, crash recovery with its attempt cap,
and retention. Every test goes through the port only; the stores are opened by the composition root from a URL."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from r2v.errors import INTERNAL_ERROR
from r2v.tasks import model
from r2v.tasks.model import MAX_ATTEMPTS, TRANSITIONS, ListFilter, Task, TaskStatus
from r2v.tasks.store import TaskStore
from tests.backends import DATABASES, components

pytestmark = pytest.mark.unit

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED = (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.SUCCEEDED,
                                                 TaskStatus.FAILED, TaskStatus.CANCELED)  # fmt: skip


@pytest.fixture(params=sorted(DATABASES))
def open_store(request, tmp_path) -> Callable[..., TaskStore]:
    """Opens a TaskStore on the backend under test: the same database for the same `folder` (one more connection,
    as the server and each of its worker processes have), a fresh one for a new folder."""
    return lambda folder="db": components(tmp_path / folder, database=request.param).tasks


@pytest.fixture
def store(open_store) -> TaskStore:
    return open_store()


def task(task_id: str, owner: str = "alice", submit_ms: int = 1000, status: TaskStatus = PENDING, **extra) -> Task:
    fields = dict(
        request_id=f"req-{task_id}", model="wan2.7-r2v", spec_json="{}", orig_prompt="图1", region="cn-beijing"
    )
    fields.update(extra)
    return Task(task_id=task_id, owner=owner, status=status, submit_ms=submit_ms, **fields)


def add(store: TaskStore, *tasks: Task) -> None:
    for t in tasks:
        store.create(t)


def running(store: TaskStore, task_id: str, worker: str = "w1", now_ms: int = 2000) -> Task:
    """Claims `task_id`, which must be the only PENDING task."""
    claimed = store.claim_next(worker, now_ms, None)
    assert claimed is not None and claimed.task_id == task_id
    return claimed


# --- create, get -------------------------------------------------------------------------------------------------


def test_create_and_get_keep_every_field(store):
    full = Task(task_id="t1", owner="alice", request_id="r1", model="wan2.6-r2v", status=SUCCEEDED, submit_ms=11,
                spec_json='{"a": 1}', orig_prompt="character1", region="us-east-1", scheduled_ms=12, end_ms=13,
                actual_prompt="shot 1", progress=100, attempt=2, code=None, message=None, result_name="t1.mp4",
                usage_json='{"duration": 5}')  # fmt: skip
    failed = task("t2", status=FAILED, code="InternalError", message="boom", end_ms=20)
    busy = task("t3", status=RUNNING, attempt=1, worker="w7", scheduled_ms=30, progress=55)
    add(store, full, failed, busy)
    assert store.get("t1") == full
    assert store.get("t2") == failed
    assert store.get("t3") == busy and store.get("t3").worker == "w7"
    assert isinstance(store.get("t1").status, TaskStatus)
    assert store.get("nope") is None


def test_task_ids_are_unique(store):
    store.create(task("t1"))
    with pytest.raises(Exception):  # noqa: B017 - the port names no exception for it (each database has its own)
        store.create(task("t1", owner="bob"))
    assert store.get("t1") == task("t1")  # the first one stands


def test_check_answers_on_a_reachable_store(store):
    store.check()  # health: raises only when the database cannot be reached


def test_terminal_states():
    assert {s for s in TaskStatus if s.terminal} == {SUCCEEDED, FAILED, CANCELED}


# --- list ---------------------------------------------------------------------------------------------------------


def flt(**kwargs) -> ListFilter:
    return ListFilter(**{"owner": "alice", "since_ms": 0, "until_ms": 10**12, **kwargs})


def ids(result) -> list[str]:
    return [t.task_id for t in result[1]]


def test_list_is_the_owners_newest_first(store):
    add(store, task("a1", submit_ms=100), task("b1", owner="bob", submit_ms=150), task("a2", submit_ms=300),
        task("a3", submit_ms=200))  # fmt: skip
    total, page = store.list(flt())
    assert total == 3 and [t.task_id for t in page] == ["a2", "a3", "a1"]
    assert page[0] == store.get("a2")
    assert ids(store.list(flt(owner="bob"))) == ["b1"]
    assert store.list(flt(owner="carol")) == (0, [])


def test_list_ties_on_submit_time_put_the_later_insert_first(store):
    add(store, task("first", submit_ms=500), task("second", submit_ms=500), task("third", submit_ms=500))
    assert ids(store.list(flt())) == ["third", "second", "first"]


def test_list_window_includes_both_ends(store):
    add(store, task("t99", submit_ms=99), task("t100", submit_ms=100), task("t200", submit_ms=200),
        task("t201", submit_ms=201))  # fmt: skip
    assert store.list(flt(since_ms=100, until_ms=200)) == (2, [store.get("t200"), store.get("t100")])


def test_list_filters(store):
    add(store, task("p1", submit_ms=1), task("p2", submit_ms=2, model="wan2.6-r2v"),
        task("s1", submit_ms=3, status=SUCCEEDED), task("s2", submit_ms=4, status=SUCCEEDED, model="wan2.6-r2v"))  # fmt: skip
    assert ids(store.list(flt(status="SUCCEEDED"))) == ["s2", "s1"]
    assert ids(store.list(flt(model="wan2.6-r2v"))) == ["s2", "p2"]
    assert ids(store.list(flt(model="wan2.6-r2v", status="PENDING"))) == ["p2"]
    assert ids(store.list(flt(task_id="s1"))) == ["s1"]
    assert store.list(flt(task_id="s1", status="PENDING")) == (0, [])
    assert ids(store.list(flt(task_id="", model="", status=""))) == ["s2", "s1", "p2", "p1"]  # empty: no filter


def test_list_pages(store):
    add(store, *(task(f"t{i}", submit_ms=i) for i in range(1, 8)))  # t7 is the newest
    assert store.list(flt(page_no=1, page_size=3)) == (7, [store.get(f"t{i}") for i in (7, 6, 5)])
    assert ids(store.list(flt(page_no=2, page_size=3))) == ["t4", "t3", "t2"]
    assert store.list(flt(page_no=3, page_size=3)) == (7, [store.get("t1")])
    assert store.list(flt(page_no=4, page_size=3)) == (7, [])
    assert ids(store.list(flt(page_no=2, page_size=2, status="PENDING"))) == ["t5", "t4"]


# --- cancel of PENDING tasks, and claims --------------------------------------------------------------------------


def test_cancel_pending(store):
    add(store, task("t1"))
    assert not store.cancel_pending("t1", "bob", 5000)  # not bob's
    assert store.get("t1").status == PENDING
    assert store.cancel_pending("t1", "alice", 5000)
    got = store.get("t1")
    assert (got.status, got.end_ms) == (CANCELED, 5000)
    assert not store.cancel_pending("t1", "alice", 6000)  # once
    assert store.get("t1").end_ms == 5000
    assert not store.cancel_pending("missing", "alice", 5000)


def test_a_claimed_task_cannot_be_canceled_and_a_canceled_one_cannot_be_claimed(store):
    add(store, task("t1", submit_ms=1), task("t2", submit_ms=2))
    assert store.claim_next("w1", 2000, None).task_id == "t1"
    assert not store.cancel_pending("t1", "alice", 3000)
    assert store.get("t1").status == RUNNING
    assert store.cancel_pending("t2", "alice", 3000)
    assert store.claim_next("w2", 4000, None) is None
    assert store.get("t2").status == CANCELED


def test_claim_takes_the_oldest_and_starts_an_attempt(store):
    add(store, task("new", submit_ms=300), task("old", submit_ms=100, progress=40), task("mid", submit_ms=200))
    claimed = store.claim_next("w1", 5000, None)
    assert claimed == store.get("old")
    assert (claimed.status, claimed.scheduled_ms, claimed.attempt, claimed.progress) == (RUNNING, 5000, 1, 0)
    assert store.get("old").worker == "w1"
    assert [store.claim_next("w2", 6000, None).task_id for _ in range(2)] == ["mid", "new"]
    assert store.get("mid").worker == "w2"
    assert store.claim_next("w1", 7000, None) is None


def test_claim_ties_go_to_the_first_inserted(store):
    add(store, task("first", submit_ms=100), task("second", submit_ms=100))
    assert store.claim_next("w1", 1, None).task_id == "first"


def test_claim_skips_finished_tasks(store):
    add(store, task("done", submit_ms=1, status=SUCCEEDED), task("failed", submit_ms=2, status=FAILED),
        task("canceled", submit_ms=3, status=CANCELED), task("busy", submit_ms=4, status=RUNNING))  # fmt: skip
    assert store.claim_next("w1", 10, None) is None


def test_the_per_key_running_cap(store):
    add(store, task("a1", submit_ms=1), task("a2", submit_ms=2), task("a3", submit_ms=3), task("b1", "bob", 4))
    assert [store.claim_next("w", 10, 2).task_id for _ in range(2)] == ["a1", "a2"]
    assert store.claim_next("w", 10, 2).task_id == "b1"  # alice is at her cap: bob's newer task goes first
    assert store.claim_next("w", 10, 2) is None
    assert store.get("a3").status == PENDING
    store.succeed("a1", 1, 20, "a1.mp4", "{}", None)  # one of alice's ends: her next task may run
    assert store.claim_next("w", 30, 2).task_id == "a3"


def test_a_cap_of_one_and_no_cap(store):
    add(store, task("a1", submit_ms=1), task("a2", submit_ms=2), task("a3", submit_ms=3))
    assert store.claim_next("w", 10, 1).task_id == "a1"
    assert store.claim_next("w", 10, 1) is None
    assert store.claim_next("w", 10, None).task_id == "a2"  # None: no cap at all
    assert store.claim_next("w", 10, None).task_id == "a3"


def test_a_cap_of_zero_runs_nothing(store):
    add(store, task("a1"))
    assert store.claim_next("w", 10, 0) is None


def test_concurrent_claims_and_cancels_never_both_win(store, open_store):
    """Four more connections to the same database (as the server and its worker processes have), racing: each
    task is either claimed or canceled, never both, and no task is claimed twice."""
    n = 150
    add(store, *(task(f"t{i:03}", submit_ms=i) for i in range(n)))
    claimed: list[str] = []
    canceled: list[str] = []
    start = threading.Barrier(4)

    def claimer(other: TaskStore, name: str) -> None:
        start.wait()
        while (t := other.claim_next(name, 1, None)) is not None:
            claimed.append(t.task_id)

    def canceler(other: TaskStore) -> None:
        start.wait()
        for i in reversed(range(n)):
            if other.cancel_pending(f"t{i:03}", "alice", 2):
                canceled.append(f"t{i:03}")

    threads = [threading.Thread(target=claimer, args=(open_store(), f"w{i}")) for i in range(3)] + [
        threading.Thread(target=canceler, args=(open_store(),))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == len(set(claimed))
    assert not set(claimed) & set(canceled)
    assert sorted(claimed + canceled) == [f"t{i:03}" for i in range(n)]
    assert all(store.get(t).status == RUNNING and store.get(t).attempt == 1 for t in claimed)
    assert all(store.get(t).status == CANCELED for t in canceled)


# --- progress, plan, success and failure of one attempt ----------------------------------------------------------


def test_progress_only_for_the_live_attempt(store):
    add(store, task("t1"))
    store.set_progress("t1", 1, 10)  # not running yet
    assert store.get("t1").progress == 0
    live = running(store, "t1")
    store.set_progress("t1", live.attempt, 42)
    assert store.get("t1").progress == 42
    store.set_progress("t1", live.attempt + 1, 77)  # an attempt that is not this one
    store.set_progress("t1", live.attempt - 1, 77)
    assert store.get("t1").progress == 42
    store.succeed("t1", live.attempt, 3000, "t1.mp4", "{}", None)
    store.set_progress("t1", live.attempt, 50)  # finished: no change
    assert store.get("t1").progress == 100


def test_succeed(store):
    add(store, task("t1"))
    live = running(store, "t1")
    assert not store.succeed("t1", live.attempt + 1, 3000, "x.mp4", "{}", None)  # a stale or future attempt
    assert store.get("t1").status == RUNNING
    assert store.succeed("t1", live.attempt, 3000, "t1.mp4", '{"duration": 5}', "shot script")
    got = store.get("t1")
    assert (got.status, got.end_ms, got.result_name, got.usage_json, got.actual_prompt, got.progress) == (
        SUCCEEDED, 3000, "t1.mp4", '{"duration": 5}', "shot script", 100)  # fmt: skip
    assert store.get("t1").worker is None
    assert not store.succeed("t1", live.attempt, 4000, "again.mp4", "{}", None)  # exactly once
    assert store.get("t1").result_name == "t1.mp4"
    assert not store.fail("t1", live.attempt, 4000, "InternalError", "late")
    assert store.get("t1").status == SUCCEEDED


def test_succeed_needs_a_running_task(store):
    add(store, task("t1"))
    assert not store.succeed("t1", 0, 3000, "t1.mp4", "{}", None)
    assert store.get("t1").status == PENDING


def test_fail_for_one_attempt_or_any(store):
    add(store, task("t1", submit_ms=1), task("t2", submit_ms=2))
    first = running(store, "t1")
    assert not store.fail("t1", first.attempt + 1, 3000, "InternalError", "stale")
    assert store.get("t1").status == RUNNING
    assert store.fail("t1", first.attempt, 3000, "BadRequest.TooLarge", "input.media[0].url: too large")
    got = store.get("t1")
    assert (got.status, got.end_ms, got.code, got.message) == (FAILED, 3000, "BadRequest.TooLarge",
                                                               "input.media[0].url: too large")  # fmt: skip
    assert store.get("t1").worker is None
    assert not store.fail("t1", first.attempt, 3100, "InternalError", "twice")
    assert store.get("t1").code == "BadRequest.TooLarge"
    second = running(store, "t2")
    assert store.fail("t2", None, 4000, "InternalError", "whatever the attempt")
    assert (store.get("t2").status, store.get("t2").attempt) == (FAILED, second.attempt)
    add(store, task("t3", submit_ms=3))
    assert not store.fail("t3", None, 5000, "InternalError", "not running")
    assert store.get("t3").status == PENDING


def test_a_stale_attempt_cannot_finish_a_rerun(store):
    """A worker that was given up on (its task requeued and claimed again) comes back: nothing it says counts."""
    add(store, task("t1"))
    stale = running(store, "t1", "w1")
    store.requeue_running(3000, "w1")
    live = running(store, "t1", "w2", now_ms=4000)
    assert live.attempt == stale.attempt + 1
    store.set_progress("t1", stale.attempt, 99)
    store.set_plan("t1", stale.attempt, '{"stale": true}')
    assert not store.succeed("t1", stale.attempt, 5000, "stale.mp4", "{}", None)
    assert not store.fail("t1", stale.attempt, 5000, "InternalError", "stale")
    assert not store.cancel_running("t1", stale.attempt, 5000)
    got = store.get("t1")
    assert (got.status, got.progress, got.attempt, store.get_plan("t1")) == (RUNNING, 0, live.attempt, None)
    assert store.succeed("t1", live.attempt, 6000, "t1.mp4", "{}", None)


def test_plan_of_the_live_attempt(store):
    add(store, task("t1"))
    assert store.get_plan("t1") is None
    store.set_plan("t1", 1, '{"shots": 0}')  # PENDING: not kept
    assert store.get_plan("t1") is None
    live = running(store, "t1")
    store.set_plan("t1", live.attempt, '{"shots": 1}')
    assert store.get_plan("t1") == '{"shots": 1}'
    store.set_plan("t1", live.attempt, '{"shots": 2}')  # replaced
    assert store.get_plan("t1") == '{"shots": 2}'
    store.set_plan("t1", live.attempt + 1, '{"shots": 3}')
    assert store.get_plan("t1") == '{"shots": 2}'
    store.succeed("t1", live.attempt, 3000, "t1.mp4", "{}", None)
    assert store.get_plan("t1") == '{"shots": 2}'  # it lives with the task


# --- cancel of RUNNING tasks (the r2v extension) -------------------------------------------------------------------


def test_cancel_of_a_running_task_is_a_request_until_its_worker_stops(store):
    add(store, task("t1", submit_ms=1), task("t2", submit_ms=2))
    assert not store.request_cancel_running("t1", "alice")  # PENDING: cancel_pending's business
    assert not store.cancel_requested("t1")
    live = running(store, "t1")
    assert not store.request_cancel_running("t1", "bob")  # not bob's
    assert not store.cancel_requested("t1")
    assert store.request_cancel_running("t1", "alice")
    assert store.request_cancel_running("t1", "alice")  # asking twice is still a yes
    assert store.cancel_requested("t1") and not store.cancel_requested("t2")
    assert store.get("t1").status == RUNNING  # until the worker stops
    assert store.cancel_running("t1", live.attempt, 7000)
    got = store.get("t1")
    assert (got.status, got.end_ms) == (CANCELED, 7000)
    assert store.get("t1").worker is None
    assert not store.cancel_requested("t1")  # the request is consumed
    assert not store.cancel_running("t1", live.attempt, 8000)  # once
    assert store.get("t1").end_ms == 7000
    assert not store.request_cancel_running("t1", "alice")  # finished


def test_cancel_running_only_for_running_tasks(store):
    add(store, task("t1"))
    assert not store.cancel_running("t1", 0, 1000)
    assert store.get("t1").status == PENDING


# --- crash recovery and the attempt cap ----------------------------------------------------------------------------


def test_requeue_puts_running_tasks_back(store):
    add(store, task("t1", submit_ms=1), task("t2", submit_ms=2), task("t3", submit_ms=3))
    store.claim_next("w1", 100, None)
    store.claim_next("w2", 100, None)
    store.set_progress("t1", 1, 60)
    assert store.requeue_running(500, "w1") == 1  # only w1's
    got = store.get("t1")
    assert (got.status, got.scheduled_ms, got.progress, got.attempt) == (PENDING, None, 0, 1)
    assert store.get("t1").worker is None
    assert store.get("t2").status == RUNNING and store.get("t2").worker == "w2"
    assert store.requeue_running(600, "w9") == 0
    assert store.requeue_running(700) == 1  # every worker's
    assert store.get("t2").status == PENDING
    assert store.get("t3").status == PENDING and store.requeue_running(800) == 0
    assert store.claim_next("w3", 900, None).task_id == "t1"  # back in its place in the queue
    assert store.get("t1").attempt == 2


def test_the_attempt_cap_fails_a_task_that_keeps_killing_its_worker(store):
    add(store, task("poison"))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed = store.claim_next("w1", 1000 * attempt, None)
        assert (claimed.task_id, claimed.attempt) == ("poison", attempt)
        assert store.requeue_running(1000 * attempt + 500, "w1") == 1
        expected = PENDING if attempt < MAX_ATTEMPTS else FAILED
        assert store.get("poison").status == expected, attempt
    got = store.get("poison")
    assert (got.code, got.message, got.end_ms) == (INTERNAL_ERROR, "rendering was interrupted 3 times", 3500)
    assert MAX_ATTEMPTS == 3
    assert store.claim_next("w1", 9000, None) is None


def test_a_graceful_stop_releases_the_task_without_using_an_attempt(store):
    add(store, task("t1", submit_ms=1, status=RUNNING, attempt=MAX_ATTEMPTS, worker="w1", scheduled_ms=100,
                    progress=40),  # on its last attempt
        task("t2", submit_ms=2, status=RUNNING, attempt=1, worker="w2", scheduled_ms=100))  # fmt: skip
    assert store.release_running("w1") == 1 and store.release_running("w9") == 0
    got = store.get("t1")
    assert (got.status, got.scheduled_ms, got.progress, got.attempt, got.end_ms) == (
        PENDING, None, 0, MAX_ATTEMPTS - 1, None)  # fmt: skip
    assert store.get("t1").worker is None and store.get("t2").status == RUNNING  # only w1's
    rerun = store.claim_next("w3", 200, None)
    assert (rerun.task_id, rerun.attempt) == ("t1", MAX_ATTEMPTS)  # the same attempt runs again
    assert store.release_running("w3") == 1 and store.get("t1").status == PENDING  # never failed by a stop


def test_requeue_counts_failed_and_requeued(store):
    add(store, task("a", submit_ms=1, status=RUNNING, attempt=MAX_ATTEMPTS), task("b", submit_ms=2, status=RUNNING,
        attempt=MAX_ATTEMPTS - 1), task("c", submit_ms=3, status=RUNNING, attempt=MAX_ATTEMPTS + 1),
        task("d", submit_ms=4, status=SUCCEEDED, attempt=MAX_ATTEMPTS))  # fmt: skip
    assert store.requeue_running(50) == 3
    assert [store.get(t).status for t in "abcd"] == [FAILED, PENDING, FAILED, SUCCEEDED]
    assert store.get("b").end_ms is None and store.get("a").end_ms == 50


def test_requeue_of_one_worker_leaves_the_others_at_their_cap(store):
    add(store, task("a", submit_ms=1, status=RUNNING, attempt=MAX_ATTEMPTS, worker="w1", scheduled_ms=1),
        task("b", submit_ms=2, status=RUNNING, attempt=MAX_ATTEMPTS, worker="w2", scheduled_ms=1))  # fmt: skip
    assert store.requeue_running(10, "w1") == 1
    assert store.get("a").status == FAILED and store.get("b").status == RUNNING


# --- the time limit --------------------------------------------------------------------------------------------


def test_fail_overdue(store):
    add(store, task("t1", submit_ms=1), task("t2", submit_ms=2))
    store.claim_next("w1", 1000, None)
    store.claim_next("w2", 1000, None)
    assert not store.fail_overdue("w1", 1000, 5000, "too long")  # started at 1000: not before 1000
    assert not store.fail_overdue("w3", 2000, 5000, "too long")  # w3 runs nothing
    assert store.get("t1").status == RUNNING
    assert store.fail_overdue("w1", 1001, 6000, "rendering took longer than 1800 s")
    got = store.get("t1")
    assert (got.status, got.end_ms, got.code, got.message) == (FAILED, 6000, INTERNAL_ERROR,
                                                               "rendering took longer than 1800 s")  # fmt: skip
    assert store.get("t1").worker is None
    assert store.get("t2").status == RUNNING
    assert not store.fail_overdue("w1", 9999, 7000, "again")


# --- retention -----------------------------------------------------------------------------------------------------


def test_retention_deletes_by_end_time_and_never_running_tasks(store):
    add(store,
        task("ended-old", submit_ms=10, status=RUNNING, attempt=1, worker="w1", scheduled_ms=20),
        task("ended-at-limit", submit_ms=10, status=FAILED, end_ms=100),  # not before the limit
        task("submitted-old-ended-late", submit_ms=10, status=SUCCEEDED, end_ms=150),
        task("canceled-old", submit_ms=20, status=CANCELED, end_ms=60),
        task("pending-old", submit_ms=30),  # no end: measured from submission
        task("pending-new", submit_ms=120),
        task("running-old", submit_ms=5, status=RUNNING))  # fmt: skip
    # ended-old ends with a plan and with a cancel request its worker did not see in time
    store.set_plan("ended-old", 1, "{}")
    assert store.request_cancel_running("ended-old", "alice")
    assert store.succeed("ended-old", 1, 50, "ended-old.mp4", "{}", None)
    assert store.get_plan("ended-old") == "{}" and store.cancel_requested("ended-old")
    deleted = store.delete_finished_before(100)
    assert sorted(deleted) == ["canceled-old", "ended-old", "pending-old"]
    for gone in deleted:
        assert store.get(gone) is None
    assert store.get_plan("ended-old") is None and not store.cancel_requested("ended-old")  # with the task
    left = {"ended-at-limit", "submitted-old-ended-late", "pending-new", "running-old"}
    assert {t for t in left if store.get(t)} == left
    assert store.delete_finished_before(100) == []
    assert sorted(store.delete_finished_before(10**9)) == ["ended-at-limit", "pending-new", "submitted-old-ended-late"]
    assert store.get("running-old").status == RUNNING


def test_backdate_moves_every_time_of_one_task_and_retention_then_takes_it(store):
    add(store,
        task("aged", submit_ms=1000, status=SUCCEEDED, scheduled_ms=1100, end_ms=1500),
        task("queued", submit_ms=1000),
        task("other", submit_ms=1000, status=SUCCEEDED, scheduled_ms=1100, end_ms=1500))  # fmt: skip
    assert store.backdate("aged", 400) and store.backdate("queued", 400)
    aged, queued, other = store.get("aged"), store.get("queued"), store.get("other")
    assert (aged.submit_ms, aged.scheduled_ms, aged.end_ms) == (600, 700, 1100)
    assert (queued.submit_ms, queued.scheduled_ms, queued.end_ms) == (600, None, None)  # what it lacks, it still lacks
    assert (other.submit_ms, other.end_ms) == (1000, 1500)
    assert not store.backdate("nobody", 400)
    assert sorted(store.delete_finished_before(1200)) == ["aged", "queued"]


def test_delete_task_takes_one_task_of_its_key_unless_it_runs(store):
    add(store, task("done", status=SUCCEEDED, end_ms=50), task("other-key", owner="bob", status=FAILED, end_ms=50),
        task("waiting"), task("busy", status=RUNNING, attempt=1, worker="w1", scheduled_ms=20))  # fmt: skip
    store.set_plan("busy", 1, "{}")
    assert store.succeed("busy", 1, 60, "busy.mp4", "{}", None)  # ended with its plan: deleted with it below
    add(store, task("running", status=RUNNING, attempt=1, worker="w1", scheduled_ms=20))
    assert not store.delete_task("other-key", "alice")  # another key's: not found for this one
    assert not store.delete_task("running", "alice")  # a render in progress owns its row
    assert not store.delete_task("nowhere", "alice")
    for task_id in ("done", "waiting", "busy"):
        assert store.delete_task(task_id, "alice")
        assert store.get(task_id) is None
    assert store.get_plan("busy") is None
    assert store.claim_next("w2", NOW, None) is None  # the deleted PENDING task is never claimed
    assert {t for t in ("other-key", "running") if store.get(t)} == {"other-key", "running"}
    assert not store.delete_task("done", "alice")  # once


# --- the state machine -----------------------------------------------------------------------------------------

EDGES = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
NOW = 5000

# Where a task can stand when an operation reaches it: every status with a worker and an attempt (so that only
# the status guard stops an operation that must not touch it), a PENDING task that never ran, and a RUNNING one on
# its last attempt.
STARTS: dict[str, dict] = {
    **{status.value: dict(status=status, attempt=1, scheduled_ms=1000) for status in TRANSITIONS},
    "PENDING, never run": dict(status=PENDING, attempt=0),
    "RUNNING, last attempt": dict(status=RUNNING, attempt=MAX_ATTEMPTS, scheduled_ms=1000),
}

REQUEUED = {(RUNNING, PENDING), (RUNNING, FAILED)}  # back in the queue, or failed after its last attempt
# Every operation of the port that may change a status, aimed at one task `t` as its own worker would call it
# (with its attempt), and the edges each one may take. claim_next and requeue_running of all workers aim at none.
MOVES: dict[str, tuple[Callable[[TaskStore, Task], object], set]] = {
    "claim_next": (lambda s, t: s.claim_next("w-new", NOW, None), {(PENDING, RUNNING)}),
    "cancel_pending": (lambda s, t: s.cancel_pending(t.task_id, t.owner, NOW), {(PENDING, CANCELED)}),
    "cancel_running": (lambda s, t: s.cancel_running(t.task_id, t.attempt, NOW), {(RUNNING, CANCELED)}),
    "succeed": (lambda s, t: s.succeed(t.task_id, t.attempt, NOW, "r.mp4", "{}", None), {(RUNNING, SUCCEEDED)}),
    "fail": (lambda s, t: s.fail(t.task_id, t.attempt, NOW, INTERNAL_ERROR, "x"), {(RUNNING, FAILED)}),
    "fail, any attempt": (lambda s, t: s.fail(t.task_id, None, NOW, INTERNAL_ERROR, "x"), {(RUNNING, FAILED)}),
    "fail_overdue": (lambda s, t: s.fail_overdue(t.worker or "idle", NOW, NOW, "x"), {(RUNNING, FAILED)}),
    "requeue_running, one worker": (lambda s, t: s.requeue_running(NOW, t.worker or "idle"), REQUEUED),
    "requeue_running, all": (lambda s, t: s.requeue_running(NOW), REQUEUED),
    "release_running": (lambda s, t: s.release_running(t.worker or "idle"), {(RUNNING, PENDING)}),
}
AIMED_AT_NONE = {"claim_next", "requeue_running, all"}
# Operations that never change a status.
STILLS: dict[str, Callable[[TaskStore, Task], object]] = {
    "set_progress": lambda s, t: s.set_progress(t.task_id, t.attempt, 50),
    "set_plan": lambda s, t: s.set_plan(t.task_id, t.attempt, "{}"),
    "request_cancel_running": lambda s, t: s.request_cancel_running(t.task_id, t.owner),
    "cancel_requested": lambda s, t: s.cancel_requested(t.task_id),
}


def test_the_store_walks_exactly_the_declared_state_machine(open_store):
    """Every operation, on a database holding a task in every status, aimed at each task in turn: each status
    change the store makes is an edge of TRANSITIONS that the operation may take, made only to the task it aimed at,
    and the operation says so (True, the claimed task, or the count) exactly when it made it; every edge of
    TRANSITIONS is taken by some operation."""
    assert set(TRANSITIONS) == set(TaskStatus) - {TaskStatus.UNKNOWN}  # every stored status has its row
    assert all(target in TRANSITIONS for targets in TRANSITIONS.values() for target in targets)
    taken: dict[str, set] = {name: set() for name in MOVES}
    for name, operation in [*((n, m[0]) for n, m in MOVES.items()), *STILLS.items()]:
        store = open_store(f"walk/{name}")  # a database of its own for each operation
        tasks = [task(f"t{i}", submit_ms=i, worker=f"w{i}" if fields["attempt"] else None, **fields)
                 for i, fields in enumerate(STARTS.values())]  # fmt: skip
        add(store, *tasks)
        for aimed in tasks:
            before = {t.task_id: store.get(t.task_id).status for t in tasks}
            answer = operation(store, aimed)
            after = {t.task_id: store.get(t.task_id).status for t in tasks}
            changes = {i: (before[i], after[i]) for i in before if before[i] != after[i]}
            where = (name, aimed.task_id, changes, answer)
            if name in STILLS:
                assert not changes, where
                continue
            assert set(changes.values()) <= MOVES[name][1] <= EDGES, where
            taken[name] |= set(changes.values())
            if name not in AIMED_AT_NONE:
                assert set(changes) <= {aimed.task_id}, where
            if isinstance(answer, Task):
                assert set(changes) == {answer.task_id} and after[answer.task_id] == answer.status, where
            elif isinstance(answer, int) and not isinstance(answer, bool):
                assert answer == len(changes), where
            else:
                assert bool(answer) == bool(changes), where
    assert taken == {name: edges for name, (_, edges) in MOVES.items()}  # each operation takes each of its edges
    assert set().union(*taken.values()) == EDGES


def test_transition_refuses_every_move_the_machine_does_not_have():
    for source in TRANSITIONS:
        for target in TaskStatus:
            if (source, target) in EDGES:
                assert model.transition(source, target) == (target.value, source.value)
            else:
                with pytest.raises(ValueError, match=f"from {source} to {target}"):
                    model.transition(source, target)

"""r2v.metrics: the API's task numbers come from a real store at scrape time (and a store that cannot answer still
gives a scrape, saying so in r2v_store_up); a worker counts its renders and serves /metrics and /healthz."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from r2v.metrics import ApiMetrics, WorkerMetrics
from r2v.tasks.model import Task, TaskStatus
from r2v.tasks.store import TaskStore
from tests.backends import DATABASES, components

pytestmark = pytest.mark.unit

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED = (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.SUCCEEDED,
                                                 TaskStatus.FAILED, TaskStatus.CANCELED)  # fmt: skip


def samples(text: bytes | str) -> dict[tuple[str, frozenset], float]:
    """(sample name, its labels) -> value, from exposition text, as Prometheus would read it."""
    if isinstance(text, bytes):
        text = text.decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def value(scraped: dict, name: str, **labels: str) -> float | None:
    return scraped.get((name, frozenset(labels.items())))


def task(task_id: str, status: TaskStatus = PENDING, submit_ms: int = 1000, **extra) -> Task:
    return Task(task_id=task_id, owner="alice", status=status, submit_ms=submit_ms, request_id=f"req-{task_id}",
                model="wan2.7-r2v", spec_json="{}", orig_prompt="图1", region="cn-beijing", **extra)  # fmt: skip


@pytest.fixture(params=sorted(DATABASES))
def store(request, tmp_path) -> TaskStore:
    return components(tmp_path, database=request.param).tasks


def claim_and(store: TaskStore, task_id: str, then) -> None:
    """Create `task_id`, claim it (it must be the only PENDING one), then move it on with `then(task)`."""
    store.create(task(task_id))
    claimed = store.claim_next("w1", 2000, None)
    assert claimed is not None and claimed.task_id == task_id
    then(claimed)


def fill(store: TaskStore) -> None:
    """RUNNING 1, FAILED 3 (Timeout 2, InternalError 1), SUCCEEDED 1, CANCELED 1, then PENDING 2."""
    claim_and(store, "r1", lambda t: None)
    claim_and(store, "f1", lambda t: store.fail(t.task_id, t.attempt, 3000, "Timeout", "took too long"))
    claim_and(store, "f2", lambda t: store.fail(t.task_id, t.attempt, 3000, "Timeout", "took too long"))
    claim_and(store, "s1", lambda t: store.succeed(t.task_id, t.attempt, 3000, "s1.mp4", "{}", None))
    store.create(task("f3", status=FAILED, code=None, message="lost", end_ms=3000))  # no code: InternalError
    store.create(task("c1"))
    assert store.cancel_pending("c1", "alice", 3000)
    store.create(task("p1"))
    store.create(task("p2"))


# --- the API's numbers, from the store ----------------------------------------------------------------------------


def test_scrape_gives_the_stores_tasks_by_status_queue_and_failures(store):
    fill(store)
    body, content_type = ApiMetrics(store).render()
    assert content_type.startswith("text/plain")
    got = samples(body)
    assert value(got, "r2v_store_up") == 1
    assert {s: value(got, "r2v_tasks", status=s) for s in ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED")} \
        == {"PENDING": 2, "RUNNING": 1, "SUCCEEDED": 1, "FAILED": 3, "CANCELED": 1}  # fmt: skip
    assert value(got, "r2v_queue_depth") == 2
    assert {dict(labels)["code"]: v for (name, labels), v in got.items() if name == "r2v_task_failures"} \
        == {"Timeout": 2, "InternalError": 1}  # fmt: skip


def test_render_durations_are_a_histogram_of_the_kept_tasks_that_ran(store):
    claim_and(store, "s2", lambda t: store.succeed(t.task_id, t.attempt, 2000 + 45_000, "s2.mp4", "{}", None))
    fill(store)  # s1, f1, f2 ran from 2000 to 3000 ms; f3 and c1 never ran
    got = samples(ApiMetrics(store).render()[0])

    def bucket(status: str, le: str) -> float | None:
        return value(got, "r2v_task_duration_seconds_bucket", status=status, le=le)

    assert [bucket("SUCCEEDED", le) for le in ("0.5", "1.0", "30.0", "60.0", "+Inf")] == [0, 1, 1, 2, 2]
    assert value(got, "r2v_task_duration_seconds_count", status="SUCCEEDED") == 2
    assert value(got, "r2v_task_duration_seconds_sum", status="SUCCEEDED") == 46.0
    assert value(got, "r2v_task_duration_seconds_count", status="FAILED") == 2  # not f3, which never ran
    assert bucket("FAILED", "1.0") == 2
    assert value(got, "r2v_task_duration_seconds_count", status="CANCELED") == 0  # c1 never ran: a series at 0


def test_every_status_has_a_series_when_the_store_is_empty(store):
    got = samples(ApiMetrics(store).render()[0])
    for status in ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"):
        assert value(got, "r2v_tasks", status=status) == 0, status
    assert value(got, "r2v_queue_depth") == 0
    assert not [k for k in got if k[0] == "r2v_task_failures"]


def test_numbers_are_read_at_each_scrape_not_at_construction(store):
    metrics = ApiMetrics(store)
    assert value(samples(metrics.render()[0]), "r2v_queue_depth") == 0
    store.create(task("p1"))
    assert value(samples(metrics.render()[0]), "r2v_queue_depth") == 1


class FlakyStore:
    """The real store, except that it fails (as a database that went away does) while `down`."""

    def __init__(self, store: TaskStore, fail_on: tuple[str, ...] = ("counts", "failures_by_code")) -> None:
        self.store, self.fail_on, self.down = store, fail_on, True

    def __getattr__(self, name: str):
        if self.down and name in self.fail_on:

            def broken(*args, **kwargs):
                raise OSError("database is unreachable")

            return broken
        return getattr(self.store, name)


@pytest.mark.parametrize("fail_on", [("counts",), ("failures_by_code",), ("render_durations",)])
def test_a_store_that_cannot_answer_still_gives_a_scrape_saying_so(store, fail_on):
    fill(store)
    flaky = FlakyStore(store, fail_on)
    metrics = ApiMetrics(flaky)  # built while the store is down: registering must not query it
    metrics.observe_request("/api/v1/tasks/{task_id}", "get", 200, 0.01)
    body, _ = metrics.render()
    got = samples(body)
    assert value(got, "r2v_store_up") == 0
    names = {name for name, _ in got}
    assert not names & {"r2v_tasks", "r2v_queue_depth", "r2v_task_failures",
                        "r2v_task_duration_seconds_count"}  # none, rather than some of them  # fmt: skip
    assert value(got, "r2v_http_request_duration_seconds_count", route="/api/v1/tasks/{task_id}", method="GET",
                 status="200") == 1  # the API's own metrics still come  # fmt: skip

    flaky.down = False  # the database is back: so are its numbers
    got = samples(metrics.render()[0])
    assert value(got, "r2v_store_up") == 1 and value(got, "r2v_queue_depth") == 2


def test_request_histogram_by_route_method_status_and_process(store):
    metrics = ApiMetrics(store, process_label="api-1")
    metrics.observe_request("/api/v1/tasks", "POST", 200, 0.02)
    metrics.observe_request("/api/v1/tasks", "POST", 200, 3.0)
    metrics.observe_request("/api/v1/tasks", "POST", 400, 0.001)
    got = samples(metrics.render()[0])
    ok = dict(route="/api/v1/tasks", method="POST", status="200", process="api-1")
    assert value(got, "r2v_http_request_duration_seconds_count", **ok) == 2
    assert value(got, "r2v_http_request_duration_seconds_sum", **ok) == pytest.approx(3.02)
    assert value(got, "r2v_http_request_duration_seconds_bucket", le="0.025", **ok) == 1
    assert value(got, "r2v_http_request_duration_seconds_count", route="/api/v1/tasks", method="POST", status="400",
                 process="api-1") == 1  # fmt: skip


def test_two_apps_in_one_process_do_not_clash(tmp_path):
    first, second = components(tmp_path / "a").tasks, components(tmp_path / "b").tasks
    first.create(task("p1"))
    a, b = ApiMetrics(first), ApiMetrics(second)  # the same metric names twice: no "Duplicated timeseries"
    a.observe_request("/x", "GET", 200, 0.1)
    assert value(samples(a.render()[0]), "r2v_queue_depth") == 1
    got_b = samples(b.render()[0])
    assert value(got_b, "r2v_queue_depth") == 0
    assert not [k for k in got_b if k[0] == "r2v_http_request_duration_seconds_count"]


# --- a worker's renders ---------------------------------------------------------------------------------------------


def test_worker_observe_counts_durations_endings_and_failure_codes():
    metrics = WorkerMetrics()
    metrics.observe("SUCCEEDED", 42.0, None)
    metrics.observe("SUCCEEDED", 0.3, None)
    metrics.observe("FAILED", 5.0, "Timeout")
    metrics.observe("FAILED", 7.0, None)
    metrics.observe("CANCELED", 1.0, "Ignored")  # a code on a non-failure is not a failure
    got = samples(metrics.render()[0])
    assert value(got, "r2v_tasks_finished_total", status="SUCCEEDED") == 2
    assert value(got, "r2v_tasks_finished_total", status="FAILED") == 2
    assert value(got, "r2v_tasks_finished_total", status="CANCELED") == 1
    assert {dict(labels)["code"]: v for (name, labels), v in got.items() if name == "r2v_task_failures_total"} \
        == {"Timeout": 1, "InternalError": 1}  # fmt: skip
    assert value(got, "r2v_task_duration_seconds_count", status="SUCCEEDED") == 2
    assert value(got, "r2v_task_duration_seconds_sum", status="SUCCEEDED") == pytest.approx(42.3)
    assert value(got, "r2v_task_duration_seconds_bucket", status="SUCCEEDED", le="0.5") == 1
    assert value(got, "r2v_task_duration_seconds_bucket", status="SUCCEEDED", le="60.0") == 2
    assert value(got, "r2v_task_duration_seconds_bucket", status="SUCCEEDED", le="3600.0") == 2
    assert value(got, "r2v_worker_busy") == 0


def test_worker_series_exist_at_zero_before_the_first_render():
    got = samples(WorkerMetrics().render()[0])
    for status in ("SUCCEEDED", "FAILED", "CANCELED"):
        assert value(got, "r2v_tasks_finished_total", status=status) == 0
        assert value(got, "r2v_task_duration_seconds_count", status=status) == 0


def test_worker_busy_counts_renders_in_progress_however_they_end():
    metrics = WorkerMetrics()
    busy = lambda: value(samples(metrics.render()[0]), "r2v_worker_busy")  # noqa: E731
    with metrics.rendering():
        with metrics.rendering():
            assert busy() == 2
        assert busy() == 1
    with pytest.raises(RuntimeError), metrics.rendering():
        raise RuntimeError("render crashed")
    assert busy() == 0


# --- a worker's HTTP server -----------------------------------------------------------------------------------------


def test_worker_server_answers_metrics_healthz_and_404():
    metrics = WorkerMetrics()
    metrics.observe("FAILED", 2.0, "Timeout")
    health = {"now": (True, "")}
    server = metrics.serve(0, host="127.0.0.1", health=lambda: health["now"])
    try:
        assert server.port > 0
        base = f"http://127.0.0.1:{server.port}"
        r = httpx.get(f"{base}/metrics", timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert value(samples(r.text), "r2v_task_failures_total", code="Timeout") == 1

        r = httpx.get(f"{base}/healthz", timeout=10)
        assert (r.status_code, r.json()) == (200, {"status": "ok"})
        health["now"] = (False, "database: connection refused")
        r = httpx.get(f"{base}/healthz", timeout=10)
        assert (r.status_code, r.json()) == (503, {"status": "unavailable", "reason": "database: connection refused"})

        for path in ("/", "/metricsx", "/healthz/more", "/favicon.ico"):
            assert httpx.get(f"{base}{path}", timeout=10).status_code == 404, path
        for path in ("/metrics", "/healthz"):
            assert httpx.post(f"{base}{path}", timeout=10).status_code == 405, path
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)


def test_worker_healthz_is_unavailable_when_the_check_raises_and_ok_without_one():
    def check():
        raise OSError("no route to database")

    with WorkerMetrics().serve(0, host="127.0.0.1", health=check) as server:
        r = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable" and "no route to database" in r.json()["reason"]
    with WorkerMetrics().serve(0, host="127.0.0.1") as server:
        r = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
        assert (r.status_code, r.json()) == (200, {"status": "ok"})

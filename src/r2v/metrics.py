"""Prometheus metrics of the API and of the workers, each on a registry of its own (never prometheus_client's global
one), so that several apps or workers in one process (the tests) never clash over a metric name.

The API's task numbers are read from the TaskStore when Prometheus scrapes, not counted in memory: every API
process then answers the same truth, whichever one the scrape reaches and however many restarted. A worker counts
what it rendered itself, and serves /metrics and /healthz on a port of its own (it has no HTTP app)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from r2v.errors import INTERNAL_ERROR
from r2v.tasks.model import TaskStatus
from r2v.tasks.store import TaskStore

log = logging.getLogger(__name__)

# Every status a store keeps (UNKNOWN is only ever answered): each gets a series, 0 when none, so a dashboard's
# query never sees a status vanish and come back.
KEPT_STATUSES = tuple(s.value for s in TaskStatus if s is not TaskStatus.UNKNOWN)
FINISHED_STATUSES = tuple(s.value for s in TaskStatus if s.terminal)

# A render takes seconds (an animatic) to most of an hour (a long Wan job); the API's requests take milliseconds.
RENDER_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _StoreCollector(Collector):
    """Asks the store at scrape time. A store that cannot answer (database down) makes r2v_store_up 0 and drops
    the families it would have given, rather than failing the whole scrape: Prometheus then still sees the API's
    own metrics, and an alert on r2v_store_up says what is wrong."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not query the store (it may be down, or not yet migrated)

    def collect(self) -> Iterator[Metric]:
        try:
            counts = self.store.counts()
            failures = self.store.failures_by_code()
            durations = self.store.render_durations([round(b * 1000) for b in RENDER_BUCKETS])
        except Exception as exc:  # noqa: BLE001 - any store error means the same thing here: no numbers this time
            log.warning("metrics: the task store did not answer: %s", exc)
            yield _store_up(0)
            return
        yield _store_up(1)
        tasks = GaugeMetricFamily("r2v_tasks", "Tasks kept, by status.", labels=["status"])
        for status in sorted({*KEPT_STATUSES, *counts}):
            tasks.add_metric([status], counts.get(status, 0))
        yield tasks
        yield GaugeMetricFamily("r2v_queue_depth", "Tasks waiting for a worker (PENDING).",
                                value=counts.get(TaskStatus.PENDING.value, 0))  # fmt: skip
        by_code = GaugeMetricFamily("r2v_task_failures", "FAILED tasks kept, by error code.", labels=["code"])
        for code, n in sorted(failures.items()):
            by_code.add_metric([code], n)
        yield by_code
        yield _durations(durations)


def _durations(durations: dict[str, tuple[list[int], int, int]]) -> HistogramMetricFamily:
    """The renders of the ended tasks kept (retention drops old ones: a scrape may see the counts go down, which
    Prometheus's rate() reads as a reset), from their claim to their end, by final status."""
    family = HistogramMetricFamily("r2v_task_duration_seconds", "Renders of the ended tasks kept, from claim to "
                                   "end, by final status.", labels=["status"])  # fmt: skip
    for status in FINISHED_STATUSES:
        counts, total, total_ms = durations.get(status, ([0] * len(RENDER_BUCKETS), 0, 0))
        buckets = [(_bound(b), n) for b, n in zip(RENDER_BUCKETS, counts, strict=True)] + [("+Inf", total)]
        family.add_metric([status], buckets, total_ms / 1000)
    return family


def _bound(seconds: float) -> str:
    return str(float(seconds))


def _store_up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily("r2v_store_up", "1 if the task store answered this scrape, else 0.", value=value)


class ApiMetrics:
    """The API's /metrics: task numbers from the store (at scrape time) and the duration of HTTP requests.

    `process_label`, when given (e.g. one per API process), is a `process` label on the request histogram, which is
    counted in each process's memory; the store's numbers are the same from every process and carry no label."""

    def __init__(self, store: TaskStore, process_label: str | None = None) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StoreCollector(store))
        self._process = process_label
        labels = ["route", "method", "status"] + (["process"] if process_label is not None else [])
        self.requests = Histogram("r2v_http_request_duration_seconds", "HTTP requests, by route template.",
                                  labels, registry=self.registry, buckets=REQUEST_BUCKETS)  # fmt: skip

    def observe_request(self, route: str, method: str, status: int | str, seconds: float) -> None:
        """One HTTP request. `route` must be the route's template ("/api/v1/tasks/{task_id}"), never the raw path:
        a label value per task id would grow without end."""
        values = [route, method.upper(), str(status)] + ([self._process] if self._process is not None else [])
        self.requests.labels(*values).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type. It queries the store, so it blocks: call it off the event
        loop, as the other store calls are."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class WorkerMetrics:
    """A worker's renders: how long they took, how they ended, how many run now."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.duration = Histogram("r2v_task_duration_seconds", "Renders, from claim to end, by final status.",
                                  ["status"], registry=self.registry, buckets=RENDER_BUCKETS)  # fmt: skip
        self.failures = Counter("r2v_task_failures", "Renders that FAILED, by error code.", ["code"],
                                registry=self.registry)  # fmt: skip
        self.finished = Counter("r2v_tasks_finished", "Renders ended, by final status.", ["status"],
                                registry=self.registry)  # fmt: skip
        self.busy = Gauge("r2v_worker_busy", "Renders in progress.", registry=self.registry)
        for status in FINISHED_STATUSES:  # series at 0 from the start, so rate() sees the first one
            self.duration.labels(status)
            self.finished.labels(status)

    def observe(self, status: str, seconds: float, code: str | None = None) -> None:
        """One render ended (the worker's callback: status, seconds, failure code)."""
        self.duration.labels(status).observe(seconds)
        self.finished.labels(status).inc()
        if status == TaskStatus.FAILED.value:
            self.failures.labels(code or INTERNAL_ERROR).inc()

    @contextmanager
    def rendering(self) -> Iterator[None]:
        """Around one render: r2v_worker_busy counts it while it runs, however it ends."""
        self.busy.inc()
        try:
            yield
        finally:
            self.busy.dec()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def serve(self, port: int, host: str = "0.0.0.0",
              health: Callable[[], tuple[bool, str]] | None = None) -> MetricsServer:  # fmt: skip
        """GET /metrics and GET /healthz on (host, port) from a daemon thread; port 0 picks a free one."""
        return MetricsServer(self.registry, host, port, health)


# --- the worker's small HTTP server --------------------------------------------------------------------------------


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # A slow health check (a database that hangs) must not hold up /metrics, nor keep the process alive at exit.
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's parameter name
        pass  # a scrape every few seconds would drown the worker's own log


class MetricsServer:
    """A running /metrics + /healthz server; `port` is the one bound (useful with port 0)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int,
                 health: Callable[[], tuple[bool, str]] | None) -> None:  # fmt: skip
        self._metrics = make_wsgi_app(registry)
        self._health = health
        server_class = _ThreadingServer
        if ":" in host:  # an IPv6 address ("::")
            server_class = type("_ThreadingServer6", (_ThreadingServer,), {"address_family": socket.AF_INET6})
        self._server = make_server(host, port, self._app, server_class=server_class, handler_class=_QuietHandler)
        self.host = host
        self.port: int = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"metrics:{self.port}", daemon=True)
        self._thread.start()

    def _app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path not in ("/metrics", "/healthz"):
            return _reply(start_response, "404 Not Found", {"status": "not found", "path": path})
        if method != "GET":  # (wsgiref would send a body to HEAD too)
            return _reply(start_response, "405 Method Not Allowed", {"status": "method not allowed"},
                          [("Allow", "GET")])  # fmt: skip
        if path == "/metrics":
            return self._metrics(environ, start_response)
        ok, reason = self._check()
        if ok:
            return _reply(start_response, "200 OK", {"status": "ok"})
        return _reply(start_response, "503 Service Unavailable", {"status": "unavailable", "reason": reason})

    def _check(self) -> tuple[bool, str]:
        if self._health is None:
            return True, ""
        try:
            return self._health()
        except Exception as exc:  # noqa: BLE001 - a check that raises is a failed check, not a crashed server
            return False, f"{type(exc).__name__}: {exc}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _reply(start_response: Callable, status: str, body: dict, headers: list[tuple[str, str]] | None = None,
           ) -> list[bytes]:  # fmt: skip
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                            *(headers or [])])  # fmt: skip
    return [data]

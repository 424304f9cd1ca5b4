"""Chaos: while a client creates a fixed number of tasks, render workers and the server are SIGKILLed at random
(seeded) moments, during creates, renders and result writes, and the server is restarted. Every result is
downloaded and checked, whole and spec-exact, as soon as its task is seen SUCCEEDED, while the kills go on: nothing
half-written is ever served. A worker kill takes one that is rendering. No kill lands while an unfinished task is
past its first attempt, so no task can use up its 3 attempts, and none may fail: at the end every task the server
wrote (each create answered 200, and any whose answer a kill cut off) has SUCCEEDED exactly once, with one result
file holding the very bytes served during the kills, and the database passes SQLite's integrity check."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY, data_uri
from tests.helpers import ServerProcess, probe_output, result_files

pytestmark = pytest.mark.server

CREATE = "/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
TASKS = 10
KILLS = ("worker", "server") * 3


def _body(url: str, seed: int) -> dict:
    return {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
            "parameters": {"resolution": "720P", "duration": 2, "seed": seed}}  # fmt: skip


class _Producer(threading.Thread):
    """Creates TASKS tasks, each retried until the server accepts it with a 200 (a create cut off by a kill may
    still have been written: the database check at the end covers those too)."""

    def __init__(self, server: ServerProcess, urls: list[str], seed: int):
        super().__init__(daemon=True)
        self.server, self.urls, self.rng = server, urls, random.Random(seed)
        self.accepted: list[str] = []
        self.problems: list[str] = []

    def run(self) -> None:
        for n in range(TASKS):
            body = _body(self.urls[n % len(self.urls)], seed=n)
            while True:
                try:
                    answer = httpx.post(self.server.api + CREATE, json=body, headers=HEADERS, timeout=10)
                except httpx.HTTPError:  # the server is down or died mid-request: not accepted, ask again
                    time.sleep(0.1)
                    continue
                if answer.status_code != 200:
                    self.problems.append(f"create answered {answer.status_code}: {answer.text[:300]}")
                    return
                self.accepted.append(answer.json()["output"]["task_id"])
                break
            time.sleep(self.rng.uniform(0.4, 1.6))  # creates go on while the kills do


class _Checker(threading.Thread):
    """Watches the accepted tasks; the moment one is SUCCEEDED its video is downloaded and checked (a download cut
    off by a kill is tried again: a short body is an HTTP error, never a 200)."""

    def __init__(self, server: ServerProcess, producer: _Producer, scratch: Path):
        super().__init__(daemon=True)
        self.server, self.producer, self.scratch = server, producer, scratch
        self.served: dict[str, tuple[str, str]] = {}  # task id -> (sha256 of the bytes served, end_time then)
        self.problems: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for task_id in [t for t in self.producer.accepted if t not in self.served]:
                try:
                    self._check(task_id)
                except httpx.HTTPError:
                    pass  # the server is down or was killed mid-answer: look again
                except AssertionError as exc:
                    self.problems.append(f"{task_id}: {exc}")
            time.sleep(0.1)

    def _check(self, task_id: str) -> None:
        output = httpx.get(f"{self.server.api}/tasks/{task_id}", headers=HEADERS, timeout=10).json()["output"]
        assert output["task_status"] in ("PENDING", "RUNNING", "SUCCEEDED"), output
        if output["task_status"] != "SUCCEEDED":
            return
        answer = httpx.get(output["video_url"], timeout=30)
        assert answer.status_code == 200, (answer.status_code, answer.text[:300])
        dest = self.scratch / f"{task_id}.mp4"
        dest.write_bytes(answer.content)
        info = probe_output(dest)  # whole and spec-exact: every frame decodes, the size is the spec's
        assert (info["frames"], info["width"], info["height"], info["fps"]) == (60, 1280, 720, 30.0), info
        assert info["codec"] == "h264" and info["audio"] == [("aac", 48000)] and info["moov_first"], info
        self.served[task_id] = (hashlib.sha256(answer.content).hexdigest(), output["end_time"])


def _tasks(db_path: Path) -> list[tuple[str, int, str | None]]:
    """(status, attempt, worker) of every unfinished task, from the server's database."""
    with sqlite3.connect(db_path, timeout=10) as db:
        return db.execute("SELECT status, attempt, worker FROM tasks WHERE status IN ('PENDING', 'RUNNING')").fetchall()


def _safe_to_kill(tasks: list[tuple[str, int, str | None]]) -> bool:
    """Whether every unfinished task is on its first attempt (or not started). A kill right after such a look
    interrupts a task at most on its first attempt, or, had it been requeued and claimed again in between, on its
    second; then the next look waits until it is done. So no task is ever interrupted on its third attempt, and
    none can reach the cap of 3."""
    return all(attempt <= 1 for _, attempt, _ in tasks)


def _names(server: ServerProcess) -> dict[str, int]:
    """The server's workers by the name each gives itself (ps shows it: r2v-worker-N)."""
    named = {}
    for pid in server.worker_pids():
        try:
            named[Path(f"/proc/{pid}/comm").read_text().strip()] = pid
        except OSError:  # it just died
            pass
    return named


def _wait_for_a_moment_to_kill(server: ServerProcess, db_path: Path, rng: random.Random, kind: str) -> int | None:
    """Waits until a kill is safe; for a worker kill, until a worker is rendering a task then (up to 5 s; after
    that any worker will do) and returns its pid."""
    deadline = time.monotonic() + 120
    patience = time.monotonic() + 5
    while True:
        assert time.monotonic() < deadline, "an interrupted task never finished its rerun"
        tasks = _tasks(db_path)
        if _safe_to_kill(tasks):
            if kind == "server":
                return None
            named = _names(server)
            busy = {f"r2v-{worker}" for status, _, worker in tasks if status == "RUNNING"}
            rendering = sorted(pid for name, pid in named.items() if name in busy)
            if rendering:
                return rng.choice(rendering)
            if time.monotonic() > patience and named:
                return rng.choice(sorted(named.values()))
        time.sleep(0.05)


def test_random_sigkills_of_workers_and_server(tmp_path, media, assets):
    rng = random.Random(20261124)
    data = tmp_path / "data"
    db_path = data / "r2v.sqlite3"
    scratch = tmp_path / "served"
    scratch.mkdir()
    server = ServerProcess(data, KEY, workers=2).start()
    deadline = time.monotonic() + 60
    while sorted(_names(server)) != ["r2v-worker-0", "r2v-worker-1"]:  # named as soon as they run
        assert time.monotonic() < deadline, _names(server)
        time.sleep(0.05)
    producer = _Producer(server, [media.url("girl.png"), data_uri(assets["sunflowers"])], seed=rng.randrange(2**32))
    checker = _Checker(server, producer, scratch)
    producer.start()
    checker.start()
    kills = {"worker": 0, "server": 0}
    checked_during_kills = 0
    try:
        for n, kind in enumerate(KILLS):
            time.sleep(rng.uniform(0.5, 2.0))
            if n == len(KILLS) - 1:  # the last kill waits for half the results: they were checked mid-chaos
                deadline = time.monotonic() + 120
                while len(checker.served) < TASKS // 2:
                    assert time.monotonic() < deadline and not checker.problems, (checker.served, checker.problems)
                    time.sleep(0.1)
            victim = _wait_for_a_moment_to_kill(server, db_path, rng, kind)
            if kind == "worker":
                os.kill(victim, signal.SIGKILL)
            else:
                server.kill9()
                time.sleep(rng.uniform(0.0, 0.5))
                server.start()
            kills[kind] += 1
        checked_during_kills = len(checker.served)

        producer.join(timeout=120)
        assert not producer.is_alive() and not producer.problems, producer.problems
        assert len(producer.accepted) == TASKS
        deadline = time.monotonic() + 240
        while len(checker.served) < TASKS and not checker.problems:
            assert time.monotonic() < deadline, {t for t in producer.accepted if t not in checker.served}
            time.sleep(0.2)
        checker.stop.set()
        checker.join(timeout=60)
        assert not checker.problems, checker.problems
        # Ended exactly once: a later look finds the same end time as when the result was first served.
        with httpx.Client(base_url=server.api, headers=HEADERS, timeout=10) as client:
            for task_id, (_, end_time) in checker.served.items():
                later = client.get(f"/tasks/{task_id}").json()["output"]
                assert (later["task_status"], later["end_time"]) == ("SUCCEEDED", end_time), later
    finally:
        checker.stop.set()
        server.stop()

    assert kills == {"worker": 3, "server": 3} and checked_during_kills >= TASKS // 2
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(db.execute("SELECT task_id, status FROM tasks").fetchall())
    assert set(producer.accepted) <= set(rows)  # nothing accepted was lost
    assert set(rows.values()) == {"SUCCEEDED"}, rows
    results = result_files(data / "files" / "results")  # one file per task
    assert sorted(results) == sorted(rows)
    for task_id, (digest, _) in checker.served.items():  # the bytes served mid-chaos are the final result
        assert hashlib.sha256(results[task_id].read_bytes()).hexdigest() == digest
    for task_id in set(rows) - set(checker.served):  # creates whose 200 a kill cut off: rendered all the same
        info = probe_output(results[task_id])
        assert (info["frames"], info["width"], info["height"]) == (60, 1280, 720), info
    leftovers = [p for d in (data / "scratch", data / "files" / ".tmp") for p in d.rglob("*") if p.is_file()]
    assert leftovers == []  # no render's scratch, no half-written file left behind

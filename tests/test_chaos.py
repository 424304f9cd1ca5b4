"""Chaos: while a client keeps creating tasks, render workers and the server are SIGKILLed at random moments
(during creates, renders and result writes) and the server restarted. Afterwards every task accepted with a
200 has ended exactly once, each success has exactly one complete result file, nothing half-written was ever
served, and the database passes SQLite's integrity check."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time

import httpx

from tests.conftest import KEY, data_uri
from tests.helpers import ServerProcess, probe_output
from tests.helpers import workers_of as _workers

CREATE = "/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED"}


class _Producer(threading.Thread):
    """Creates tasks until stopped; remembers the ids the server accepted (HTTP 200)."""

    def __init__(self, server: ServerProcess, bodies: list[dict]):
        super().__init__(daemon=True)
        self.server, self.bodies = server, bodies
        self.accepted: list[str] = []
        self.refused = 0
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            body = self.bodies[n % len(self.bodies)]
            n += 1
            try:
                answer = httpx.post(self.server.api + CREATE, json=body, headers=HEADERS, timeout=10)
            except httpx.HTTPError:
                self.refused += 1  # the server is down or died mid-request: not accepted, so not owed
                time.sleep(0.2)
                continue
            if answer.status_code == 200:
                self.accepted.append(answer.json()["output"]["task_id"])
            time.sleep(0.3)


def _body(url: str) -> dict:
    return {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
            "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip


def _outputs(server: ServerProcess, ids: list[str]) -> dict[str, dict]:
    with httpx.Client(base_url=server.api, headers=HEADERS, timeout=10) as client:
        return {task_id: client.get(f"/tasks/{task_id}").json()["output"] for task_id in ids}


def _check_served(server: ServerProcess, output: dict, dest) -> None:
    """A served result is always a whole, playable video."""
    answer = httpx.get(output["video_url"], timeout=30)
    assert answer.status_code == 200
    dest.write_bytes(answer.content)
    info = probe_output(dest)
    assert info["frames"] == 60 and (info["width"], info["height"]) == (1280, 720)


def test_random_sigkills_of_workers_and_server(tmp_path, media, assets):
    rng = random.Random(20261124)
    data = tmp_path / "data"
    server = ServerProcess(data, KEY, workers=2).start()
    producer = _Producer(server, [_body(media.url("girl.png")), _body(data_uri(assets["sunflowers"]))])
    producer.start()
    kills = {"worker": 0, "server": 0}
    try:
        for round_ in range(8):
            time.sleep(rng.uniform(0.5, 2.5))
            workers = _workers(server.proc.pid)
            if round_ % 2 == 0 and workers:
                os.kill(rng.choice(workers), signal.SIGKILL)
                kills["worker"] += 1
            else:
                server.kill9()
                kills["server"] += 1
                time.sleep(rng.uniform(0.0, 0.5))
                server.start()
        time.sleep(1)
        producer.stop.set()
        producer.join(timeout=15)
        accepted = producer.accepted
        assert len(accepted) >= 10 and kills["server"] >= 3 and kills["worker"] >= 3

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            outputs = _outputs(server, accepted)
            if all(o["task_status"] in TERMINAL for o in outputs.values()):
                break
            time.sleep(1)
        outputs = _outputs(server, accepted)
        unfinished = {t: o["task_status"] for t, o in outputs.items() if o["task_status"] not in TERMINAL}
        assert not unfinished, unfinished
        for output in outputs.values():
            if output["task_status"] == "FAILED":  # only a task interrupted on each of its 3 attempts may fail
                assert output["code"] == "InternalError" and "interrupted 3 times" in output["message"], output
        succeeded = {t for t, o in outputs.items() if o["task_status"] == "SUCCEEDED"}
        assert len(succeeded) >= len(accepted) - 2
        for task_id in sorted(succeeded):
            _check_served(server, outputs[task_id], tmp_path / "got.mp4")

        # Ended exactly once: a second look later finds the same end, the same file.
        time.sleep(1.5)
        again = _outputs(server, accepted)
        for task_id, output in outputs.items():
            assert again[task_id]["task_status"] == output["task_status"]
            assert again[task_id]["end_time"] == output["end_time"]
            if task_id in succeeded:
                assert again[task_id]["video_url"].split("?")[0] == output["video_url"].split("?")[0]
    finally:
        producer.stop.set()
        server.stop()

    results = {p.name for p in (data / "files" / "results").iterdir()}
    assert results == {f"{task_id}.mp4" for task_id in succeeded}  # one file per success, none for the rest
    with sqlite3.connect(data / "r2v.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(db.execute("SELECT task_id, status FROM tasks").fetchall())
    assert set(accepted) <= set(rows)  # nothing accepted was lost
    assert all(rows[t] in TERMINAL for t in accepted)

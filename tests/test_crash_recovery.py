"""A task accepted with 200 is never lost: kill -9 the server mid-render, restart it, and every task ends
exactly once, with one result file."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import httpx

from tests.conftest import KEY
from tests.helpers import ServerProcess, assert_spec_video, wait_status

CREATE = "/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _workers(pid: int) -> list[int]:
    """The render worker processes of a server (its other child is multiprocessing's resource tracker)."""
    return [c for c in _children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_kill9_mid_render_then_restart(tmp_path, media):
    data = tmp_path / "data"
    server = ServerProcess(data, KEY, workers=1).start()
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": media.url("girl.png")}]},
            "parameters": {"resolution": "1080P", "duration": 10, "seed": 5}}  # fmt: skip
    ids = [httpx.post(server.api + CREATE, json=body, headers=HEADERS).json()["output"]["task_id"] for _ in range(3)]

    def fetch(srv, task_id):
        return lambda: httpx.get(f"{srv.api}/tasks/{task_id}", headers=HEADERS).json()["output"]

    first = fetch(server, ids[0])
    deadline = time.monotonic() + 60
    while not (first()["task_status"] == "RUNNING" and first()["progress"] >= 10):
        assert time.monotonic() < deadline, first()
        time.sleep(0.05)
    submitted = {i: fetch(server, i)()["submit_time"] for i in ids}
    workers = _children(server.proc.pid)
    assert _workers(server.proc.pid), "the server renders in worker processes"

    server.kill9()
    deadline = time.monotonic() + 10
    while any(_is_alive(w) for w in workers):
        assert time.monotonic() < deadline, "workers outlived the server"
        time.sleep(0.1)

    restarted = ServerProcess(data, KEY, workers=1).start()
    try:
        for task_id in ids:
            output = wait_status(fetch(restarted, task_id), {"SUCCEEDED", "FAILED", "CANCELED"}, timeout=180)
            assert output["task_status"] == "SUCCEEDED", output
            assert output["submit_time"] == submitted[task_id]
        results = sorted(p.name for p in (data / "files" / "results").iterdir())
        assert results == sorted(f"{i}.mp4" for i in ids)  # exactly one result per task
        for task_id in ids:
            assert_spec_video(data / "files" / "results" / f"{task_id}.mp4", 1920, 1080, 10)
        leftovers = [p for p in (data / "files" / ".tmp").rglob("*") if p.is_file()]
        assert leftovers == []
    finally:
        restarted.stop()
    with sqlite3.connect(data / "r2v.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = db.execute("SELECT status, count(*) FROM tasks GROUP BY status").fetchall()
        attempts = dict(db.execute("SELECT task_id, attempt FROM tasks").fetchall())
    assert statuses == [("SUCCEEDED", 3)]
    assert attempts[ids[0]] == 2  # the interrupted render ran again


def _is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_worker_killed_mid_render_is_replaced_and_its_task_rerun(tmp_path, media):
    server = ServerProcess(tmp_path / "data", KEY, workers=1).start()
    try:
        body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": media.url("girl.png")}]},
                "parameters": {"resolution": "1080P", "duration": 10}}  # fmt: skip
        task_id = httpx.post(server.api + CREATE, json=body, headers=HEADERS).json()["output"]["task_id"]

        def fetch():
            return httpx.get(f"{server.api}/tasks/{task_id}", headers=HEADERS).json()["output"]

        deadline = time.monotonic() + 60
        while not (fetch()["task_status"] == "RUNNING" and fetch()["progress"] >= 10):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (worker,) = _workers(server.proc.pid)
        os.kill(worker, 9)
        output = wait_status(fetch, {"SUCCEEDED", "FAILED"}, timeout=180)
        assert output["task_status"] == "SUCCEEDED", output
        assert httpx.get(server.base + "/healthz").status_code == 200
        replacement = _workers(server.proc.pid)
        assert len(replacement) == 1 and replacement != [worker]  # a new worker took its place
    finally:
        server.stop()

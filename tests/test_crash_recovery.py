"""A task accepted with 200 is never lost: kill -9 the server mid-render, restart it, and every task ends
exactly once, with one result file."""

from __future__ import annotations

import os
import sqlite3
import time

import httpx
import pytest

from tests.conftest import KEY
from tests.helpers import ServerProcess, assert_spec_video, children_of, download, is_alive, result_files, wait_status

pytestmark = pytest.mark.server

CREATE = "/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}


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
    workers = children_of(server.proc.pid)
    assert server.worker_pids(), "the server renders in worker processes"

    server.kill9()
    deadline = time.monotonic() + 10
    while any(is_alive(w) for w in workers):
        assert time.monotonic() < deadline, "workers outlived the server"
        time.sleep(0.1)

    restarted = ServerProcess(data, KEY, workers=1).start()
    try:
        for task_id in ids:
            output = wait_status(fetch(restarted, task_id), {"SUCCEEDED", "FAILED", "CANCELED"}, timeout=180)
            assert output["task_status"] == "SUCCEEDED", output
            assert output["submit_time"] == submitted[task_id]
        results = result_files(data / "files" / "results")  # exactly one result per task
        assert sorted(results) == sorted(ids)
        for task_id in ids:
            assert_spec_video(results[task_id], 1920, 1080, 10)
        # nothing left of the interrupted render (its scratch) nor of a write it had begun (the store's temp files)
        leftovers = [p for d in (data / "scratch", data / "files" / ".tmp") for p in d.rglob("*") if p.is_file()]
        assert leftovers == []
    finally:
        restarted.stop()
    with sqlite3.connect(data / "r2v.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = db.execute("SELECT status, count(*) FROM tasks GROUP BY status").fetchall()
        attempts = dict(db.execute("SELECT task_id, attempt FROM tasks").fetchall())
    assert statuses == [("SUCCEEDED", 3)]
    assert attempts[ids[0]] == 2  # the interrupted render ran again


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
        (worker,) = server.worker_pids()
        os.kill(worker, 9)
        output = wait_status(fetch, {"SUCCEEDED", "FAILED"}, timeout=180)
        assert output["task_status"] == "SUCCEEDED", output
        assert httpx.get(server.base + "/healthz").status_code == 200
        replacement = server.worker_pids()
        assert len(replacement) == 1 and replacement != [worker]  # a new worker took its place
    finally:
        server.stop()


def test_a_task_whose_worker_dies_on_every_attempt_fails_after_three_and_the_next_one_renders(tmp_path, media):
    """The attempt cap, forced: the worker is killed each time the task is RUNNING. After the third interruption
    the task ends FAILED with InternalError instead of being rerun forever; the task behind it renders normally."""
    data = tmp_path / "data"
    server = ServerProcess(data, KEY, workers=1).start()
    url = media.url("girl.png")
    long_body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
                 "parameters": {"resolution": "1080P", "duration": 10}}  # fmt: skip
    short_body = {**long_body, "parameters": {"resolution": "720P", "duration": 2}}
    try:
        doomed, after = (httpx.post(server.api + CREATE, json=body, headers=HEADERS).json()["output"]["task_id"]
                         for body in (long_body, short_body))  # fmt: skip
        killed = []
        with sqlite3.connect(data / "r2v.sqlite3") as db:
            for attempt in (1, 2, 3):
                deadline = time.monotonic() + 60
                query = "SELECT status, attempt FROM tasks WHERE task_id = ?"
                while (row := db.execute(query, (doomed,)).fetchone()) != ("RUNNING", attempt):
                    assert time.monotonic() < deadline and row[1] <= attempt, row
                    time.sleep(0.05)
                (worker,) = server.worker_pids()  # the one worker, which claimed the task
                os.kill(worker, 9)
                killed.append(worker)

        def fetch(task_id):
            return lambda: httpx.get(f"{server.api}/tasks/{task_id}", headers=HEADERS).json()["output"]

        failed = wait_status(fetch(doomed), {"SUCCEEDED", "FAILED", "CANCELED"})
        assert failed["task_status"] == "FAILED", failed
        assert (failed["code"], failed["message"]) == ("InternalError", "rendering was interrupted 3 times")
        done = wait_status(fetch(after), {"SUCCEEDED", "FAILED", "CANCELED"})
        assert done["task_status"] == "SUCCEEDED", done
        assert_spec_video(download(done["video_url"], tmp_path / "after.mp4"), 1280, 720, 2)
        (worker,) = server.worker_pids()
        assert worker not in killed and len(set(killed)) == 3  # each attempt had a fresh worker
    finally:
        server.stop()
    assert list(result_files(data / "files" / "results")) == [after]
    with sqlite3.connect(data / "r2v.sqlite3") as db:
        attempts = dict(db.execute("SELECT task_id, attempt FROM tasks").fetchall())
    assert attempts == {doomed: 3, after: 1}

"""A store that is slow to answer holds up only the requests that wait on it: database calls run in the thread
pool, never on the event loop, so the server keeps answering everything else meanwhile."""

from __future__ import annotations

import sqlite3
import threading

import httpx
import pytest

from tests.conftest import KEY
from tests.helpers import ServerProcess, wait_status

pytestmark = pytest.mark.server

HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
CREATE = "/services/aigc/video-generation/video-synthesis"


def test_a_locked_database_does_not_stop_the_server_answering(tmp_path, media):
    # One task of a key renders at a time: the second stays PENDING, so that it can be canceled (a write).
    server = ServerProcess(tmp_path / "data", KEY, env={"R2V_RATE_LIMITS": "running=1"}).start()
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
        {"type": "reference_image", "url": media.url("girl.png")}]}, "parameters": {"resolution": "1080P", "duration": 10}}  # fmt: skip
    ids = [httpx.post(server.api + CREATE, json=body, headers=HEADERS).json()["output"]["task_id"] for _ in range(2)]
    wait_status(lambda: httpx.get(f"{server.api}/tasks/{ids[0]}", headers=HEADERS).json()["output"], {"RUNNING"})
    assert httpx.get(f"{server.api}/tasks/{ids[1]}", headers=HEADERS).json()["output"]["task_status"] == "PENDING"
    lock = sqlite3.connect(tmp_path / "data" / "r2v.sqlite3", isolation_level=None)
    answers: dict[str, int] = {}
    try:
        lock.execute("BEGIN EXCLUSIVE")  # no one else may write until this ends (readers go on, in WAL mode)
        cancel = f"{server.api}/tasks/{ids[1]}/cancel"
        waiting = threading.Thread(
            target=lambda: answers.update(stuck=httpx.post(cancel, headers=HEADERS, timeout=60).status_code)
        )
        waiting.start()
        # While the cancel waits to write, requests keep being answered, for two seconds and more after it went
        # out (a blocked event loop would answer none of them until the lock is released below).
        for _ in range(20):
            other = httpx.get(server.base + "/no/such/route", timeout=15)
            assert other.status_code == 404 and other.json()["code"] == "NotFound"
            waiting.join(timeout=0.1)
        assert waiting.is_alive() and not answers  # the cancel is still waiting for the database
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    waiting.join(timeout=60)
    assert answers["stuck"] == 200  # done once the database is free
    assert httpx.get(f"{server.api}/tasks/{ids[1]}", headers=HEADERS).json()["output"]["task_status"] == "CANCELED"
    server.stop()

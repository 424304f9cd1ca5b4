"""A graceful stop. On SIGTERM (a service manager) or SIGINT (Ctrl+C, which reaches the whole process group) the
server closes its listening socket, lets the requests in flight finish, stops its workers (a render in progress
is cut short and its task goes back to the queue), stops the janitor and exits with status 0. Nothing accepted is
lost: the next start renders what was interrupted."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import time

import httpx
import pytest

from tests.conftest import KEY
from tests.helpers import ServerProcess, assert_spec_video, is_alive, result_files, wait_status

pytestmark = pytest.mark.server

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED"}


def _body(url: str, resolution: str, duration: int) -> dict:
    return {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
            "parameters": {"resolution": resolution, "duration": duration}}  # fmt: skip


def _tcp_queues(local_port: int, remote_port: int) -> tuple[int, int] | None:
    """(tx_queue, rx_queue) of the loopback TCP socket from local_port to remote_port, from /proc/net/tcp."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{local_port:04X}") and fields[2].endswith(f":{remote_port:04X}"):
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


def _wait_until_read_by_server(server_port: int, client_port: int) -> None:
    """Until every byte the client sent has reached the server's socket and the server process has read it (so
    the request's headers are parsed and the request is in flight)."""
    deadline = time.monotonic() + 30
    while not (_tcp_queues(client_port, server_port) == (0, 0) and _tcp_queues(server_port, client_port) == (0, 0)):
        assert time.monotonic() < deadline, "the server never read the request"
        time.sleep(0.01)


def _wait_until_refused(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        assert time.monotonic() < deadline, "the listening socket stayed open after SIGTERM"
        time.sleep(0.01)


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of the one response on this connection (the server closes it afterwards)."""
    sock.settimeout(60)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_sigterm_lets_requests_finish_stops_the_workers_and_loses_nothing(tmp_path, media):
    data = tmp_path / "data"
    server = ServerProcess(data, KEY, workers=1).start()
    url = media.url("girl.png")
    api = httpx.Client(base_url=server.base, headers=HEADERS, timeout=30)
    long_id = api.post(CREATE, json=_body(url, "1080P", 10)).json()["output"]["task_id"]
    wait_status(lambda: api.get(f"/api/v1/tasks/{long_id}").json()["output"], {"RUNNING"})
    workers = server.worker_pids()
    assert len(workers) == 1

    # A create whose body arrives slowly: the headers and half the body before the signal, the rest after it.
    body = json.dumps(_body(url, "720P", 2)).encode()
    head = (f"POST {CREATE} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {KEY}\r\n"
            f"X-DashScope-Async: enable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    slow = socket.create_connection(("127.0.0.1", server.port))
    slow.sendall(head.encode() + body[: len(body) // 2])
    _wait_until_read_by_server(server.port, slow.getsockname()[1])

    server.proc.send_signal(signal.SIGTERM)
    _wait_until_refused(server.port)  # no new connections from the moment the signal is handled ...
    time.sleep(1.0)  # (a slow client: the rest comes well into the shutdown, not in its first 0.1 s)
    slow.sendall(body[len(body) // 2 :])  # ... but the request in flight is served to the end
    status, answer = _read_response(slow)
    slow.close()
    api.close()
    assert status == 200, answer
    slow_id = json.loads(answer)["output"]["task_id"]
    assert server.proc.wait(timeout=60) == 0, server.log_tail()
    assert not any(is_alive(pid) for pid in workers)  # stopped (and reaped) before the server exited
    log = server.log_path.read_text()
    assert "Traceback" not in log, log
    assert "stopped: the workers (1 render(s) interrupted, their tasks queued again) and the janitor" in log, log
    with sqlite3.connect(data / "r2v.sqlite3") as db:
        rows = dict(db.execute("SELECT task_id, status FROM tasks").fetchall())
    assert rows == {long_id: "PENDING", slow_id: "PENDING"}  # the interrupted render went back to the queue

    server.start()  # the same data dir: both accepted tasks are rendered, each to one result
    try:
        for task_id in (long_id, slow_id):
            output = wait_status(lambda t=task_id: httpx.get(f"{server.api}/tasks/{t}", headers=HEADERS)
                                 .json()["output"], TERMINAL, timeout=180)  # fmt: skip
            assert output["task_status"] == "SUCCEEDED", output
        results = data / "files" / "results"
        found = result_files(results)  # one result per task, and nothing else
        assert sorted(found) == sorted((long_id, slow_id))
        assert_spec_video(found[long_id], 1920, 1080, 10)
        workers = server.worker_pids()
    finally:
        # Ctrl+C in a terminal: SIGINT to the server and its workers alike; the workers leave stopping to it.
        os.killpg(server.proc.pid, signal.SIGINT)
        code = server.proc.wait(timeout=60)
    assert code == 0, server.log_tail()
    assert not any(is_alive(pid) for pid in workers)
    assert "Traceback" not in server.log_path.read_text(), server.log_tail()
    with sqlite3.connect(data / "r2v.sqlite3") as db:
        # the stop did not use up an attempt: the render after the restart was its first (and only) complete one
        assert db.execute("SELECT attempt FROM tasks WHERE task_id = ?", (long_id,)).fetchone() == (1,)

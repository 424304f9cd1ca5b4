"""Downloads go to the address that was checked, honour the host allow-list and refuse content coding;
probing runs in a child process whose time and memory are limited; a task past its time limit is failed and
its worker replaced."""

from __future__ import annotations

import errno
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from r2v.errors import TaskFailure
from r2v.media.fetch import FetchPolicy, download
from r2v.media.sandbox import SandboxLimits, probe_isolated
from tests.conftest import KEY
from tests.helpers import ServerProcess, wait_status
from tests.hostile import HostileServer, image

FIELD = "input.media[0].url"


class _Resolver:
    """A DNS whose answer changes after the first lookup, as in a rebinding attack."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


@pytest.mark.http
def test_the_connection_goes_to_the_checked_address(media, tmp_path):
    dns = _Resolver(["127.0.0.1"], ["10.9.9.9"])
    policy = FetchPolicy(allow_private=True, resolve=dns)
    name = media.url("girl.png").replace("127.0.0.1", "cdn.r2v-test")
    download(name, FIELD, tmp_path / "a", 10**7, policy)
    assert (tmp_path / "a").read_bytes()[:4] == b"\x89PNG"
    assert dns.calls == ["cdn.r2v-test"]  # one lookup; the system resolver (which knows no such host) never ran


@pytest.mark.http
@pytest.mark.parametrize("answer", [["8.8.8.8", "127.0.0.1"], ["::ffff:10.0.0.1"], ["100.64.1.1"], ["fd00::1"]])
def test_any_non_public_answer_refuses_the_host(answer, tmp_path):
    with pytest.raises(TaskFailure) as info:
        download("http://cdn.r2v-test/a.png", FIELD, tmp_path / "a", 10**7, FetchPolicy(resolve=_Resolver(answer)))
    assert info.value.code == "BadRequest.InputDownloadFailed"
    assert info.value.message.startswith(FIELD + ": ") and "non-public address" in info.value.message


@pytest.mark.http
def test_host_allow_list(media, tmp_path):
    dns = _Resolver(["127.0.0.1"])
    policy = FetchPolicy(allow_private=True, allow_hosts=("cdn.example",), resolve=dns)
    port = media.port
    with pytest.raises(TaskFailure, match="allow-list"):
        download(f"http://evil.example:{port}/girl.png", FIELD, tmp_path / "a", 10**7, policy)
    with pytest.raises(TaskFailure, match="allow-list"):
        download(f"http://notcdn.example:{port}/girl.png", FIELD, tmp_path / "a", 10**7, policy)
    assert dns.calls == []  # refused before any lookup
    download(f"http://img.CDN.example:{port}/girl.png", FIELD, tmp_path / "b", 10**7, policy)
    assert (tmp_path / "b").stat().st_size > 0


@pytest.mark.http
def test_content_coding_is_refused(tmp_path):
    host = HostileServer(tmp_path, host="127.0.0.1")
    try:
        with pytest.raises(TaskFailure, match="content coding 'gzip'"):
            download(host.url("gzip"), FIELD, tmp_path / "g", 10**6, FetchPolicy(allow_private=True))
    finally:
        host.close()


@pytest.mark.http
def test_probe_sandbox_limits_time_and_memory(tmp_path):
    huge = image(tmp_path / "huge.png", 8000, 8000)  # 192 MB of pixels once decoded
    assert probe_isolated(huge, FIELD, SandboxLimits()).width == 8000
    with pytest.raises(TaskFailure) as info:
        probe_isolated(huge, FIELD, SandboxLimits(memory_mb=260))
    assert info.value.code == "BadRequest.UnsupportedFileFormat"
    assert info.value.message == f"{FIELD}: decoding the file needs more than 260 MB of memory"
    with pytest.raises(TaskFailure) as info:
        probe_isolated(huge, FIELD, SandboxLimits(timeout_s=0.01))
    assert info.value.message == f"{FIELD}: decoding the file took longer than 0.01 s"
    with pytest.raises(TaskFailure, match="unrecognised file format"):
        probe_isolated(Path(__file__), FIELD, SandboxLimits())


@pytest.mark.server
def test_a_task_past_its_time_limit_fails_and_the_worker_is_replaced(tmp_path, assets):
    host = HostileServer(assets["girl"].parent, host="127.0.0.1")
    env = {"R2V_TASK_TIMEOUT_S": "8", "R2V_FETCH_TIMEOUT_S": "300"}
    server = ServerProcess(tmp_path / "data", KEY, workers=1, env=env).start()
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}

    def create(url: str) -> str:
        body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
                "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
        answer = httpx.post(server.api + "/services/aigc/video-generation/video-synthesis", json=body, headers=headers)
        return answer.json()["output"]["task_id"]

    def fetch(task_id: str):
        return lambda: httpx.get(f"{server.api}/tasks/{task_id}", headers=headers).json()["output"]

    try:
        stuck, valid = create(host.url("trickle")), create(host.url(assets["girl"].name))
        failed = wait_status(fetch(stuck), {"SUCCEEDED", "FAILED"}, timeout=60)
        assert failed["task_status"] == "FAILED" and failed["code"] == "InternalError"
        assert "longer than the 8 s limit" in failed["message"]
        assert wait_status(fetch(valid), {"SUCCEEDED", "FAILED"}, timeout=60)["task_status"] == "SUCCEEDED"
        deadline = time.monotonic() + 10
        while httpx.get(server.base + "/healthz").json().get("workers") != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert httpx.get(server.base + "/healthz").json()["workers"] == 1
    finally:
        server.stop()
        host.close()


# -- limits set through their environment variables, observed on a task ------------------------------------------

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


def _run_one_task(tmp_path, url: str) -> dict:
    """Settings() from the environment (as `r2v serve` builds them), one task created over the API and run by the
    worker's TaskRunner in-process; its final output on the wire."""
    from fastapi.testclient import TestClient

    from r2v.clock import FakeClock
    from r2v.config import Settings
    from r2v.wiring import build, build_app, runner_for

    parts = build(Settings(data_dir=tmp_path / "data"), FakeClock())
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
            "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
    with TestClient(build_app(parts), base_url="http://r2v.test") as client:
        created = client.post(CREATE, json=body, headers=headers)
        assert created.status_code == 200, created.text
        runner_for(parts).run(parts.tasks.claim_next("w", parts.clock.now_ms(), None))
        return client.get(f"/api/v1/tasks/{created.json()['output']['task_id']}", headers=headers).json()["output"]


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("R2V_API_KEYS", KEY)
    monkeypatch.setenv("R2V_ALLOW_PRIVATE_URLS", "1")
    return monkeypatch


@pytest.fixture
def unanswered_port():
    """A loopback port whose TCP handshake never completes: it listens with a backlog of 0 and its queue is full,
    so the kernel drops every further SYN (as a host behind a black-holing firewall does)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for s in (*fillers, listener):
        s.close()


@pytest.mark.http
def test_the_connect_timeout_comes_from_its_variable(env, tmp_path, unanswered_port):
    env.setenv("R2V_FETCH_CONNECT_TIMEOUT_S", "1.5")
    output = _run_one_task(tmp_path, f"http://127.0.0.1:{unanswered_port}/girl.png")
    assert output["task_status"] == "FAILED" and output["code"] == "BadRequest.InputDownloadFailed", output
    assert output["message"] == f"{FIELD}: connect timed out after 1.5 s (R2V_FETCH_CONNECT_TIMEOUT_S)"


@pytest.mark.http
def test_the_probe_limits_come_from_their_variables(env, tmp_path):
    big = HostileServer(tmp_path, host="127.0.0.1")
    image(tmp_path / "big.png", 8000, 8000)  # 192 MB of pixels once decoded: fine under the default 2048 MB
    try:
        env.setenv("R2V_PROBE_MEMORY_MB", "260")
        output = _run_one_task(tmp_path / "a", big.url("big.png"))
        assert output["task_status"] == "FAILED" and output["code"] == "BadRequest.UnsupportedFileFormat", output
        assert output["message"] == f"{FIELD}: decoding the file needs more than 260 MB of memory"
        env.delenv("R2V_PROBE_MEMORY_MB")
        env.setenv("R2V_PROBE_TIMEOUT_S", "0.01")
        output = _run_one_task(tmp_path / "b", big.url("big.png"))
        assert output["task_status"] == "FAILED" and output["code"] == "BadRequest.UnsupportedFileFormat", output
        assert output["message"] == f"{FIELD}: decoding the file took longer than 0.01 s"
    finally:
        big.close()


# -- the probe sandbox's CPU and no-write limits, for real ------------------------------------------------------


def _limits(pid: int) -> dict[str, tuple[str, str]]:
    """/proc/PID/limits as {name: (soft, hard)}."""
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {parts[0]: (parts[1], parts[2]) for parts in (re.split(r"\s{2,}", row.strip()) for row in rows)}


def _sandbox_children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                if b"r2v.media.sandbox" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


@pytest.mark.http
def test_the_probe_child_runs_under_its_limits(tmp_path):
    """The real probe child, caught while it waits to read its input (a FIFO that is opened for writing only once
    the child opened it for reading, i.e. once it is past setting its limits and inside the probe)."""
    fifo = tmp_path / "input.png"
    os.mkfifo(fifo)
    limits = SandboxLimits(timeout_s=20, memory_mb=300)
    outcome: dict = {}

    def probe() -> None:
        try:
            probe_isolated(fifo, FIELD, limits)
        except TaskFailure as failure:
            outcome["failure"] = failure

    thread = threading.Thread(target=probe)
    thread.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until the child opened it to read
            break
        except OSError as exc:
            assert exc.errno == errno.ENXIO and time.monotonic() < deadline, exc
            time.sleep(0.02)
    try:
        (child,) = _sandbox_children()
        seen = _limits(child)
    finally:
        os.write(writer, b"not media at all")
        os.close(writer)
        thread.join(timeout=30)
    assert seen["Max cpu time"] == ("21", "22")  # int(timeout) + 1 s of CPU: SIGXCPU, then SIGKILL
    assert seen["Max file size"] == ("0", "0")  # no file writes
    assert seen["Max address space"] == (str(300 * 2**20), str(300 * 2**20))
    assert seen["Max core file size"] == ("0", "0")
    assert outcome["failure"].message == f"{FIELD}: unrecognised file format"  # it read what was written


def _limited_python(code: str, tmp_path) -> subprocess.CompletedProcess:
    """A fresh interpreter that sets its limits with the sandbox's own code (memory 512 MB, 1 s of CPU), then runs
    `code`; its output goes to pipes (a regular file as stdout could not be written either)."""
    setup = "from r2v.media.sandbox import _limit_self\n_limit_self(512, 1)\n"
    return subprocess.run([sys.executable, "-c", setup + code], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)  # fmt: skip


@pytest.mark.http
def test_the_sandbox_cpu_limit_ends_a_spinning_child(tmp_path):
    done = _limited_python("while True:\n    pass\n", tmp_path)
    assert done.returncode == -signal.SIGXCPU  # the signal probe_isolated reports as "longer than ... of CPU time"


@pytest.mark.http
def test_the_sandbox_forbids_file_writes(tmp_path):
    code = ("import errno\ntry:\n    with open('written', 'wb') as f:\n        f.write(b'x' * 100)\n"
            "except OSError as exc:\n    print(errno.errorcode[exc.errno])\nelse:\n    print('wrote')\n")  # fmt: skip
    done = _limited_python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "EFBIG"
    assert (tmp_path / "written").stat().st_size == 0

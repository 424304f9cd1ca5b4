"""Downloads go to the address that was checked, honour the host allow-list and refuse content coding;
probing runs in a child process whose time and memory are limited; a task past its time limit is failed and
its worker replaced."""

from __future__ import annotations

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


def test_the_connection_goes_to_the_checked_address(media, tmp_path):
    dns = _Resolver(["127.0.0.1"], ["10.9.9.9"])
    policy = FetchPolicy(allow_private=True, resolve=dns)
    name = media.url("girl.png").replace("127.0.0.1", "cdn.r2v-test")
    download(name, FIELD, tmp_path / "a", 10**7, policy)
    assert (tmp_path / "a").read_bytes()[:4] == b"\x89PNG"
    assert dns.calls == ["cdn.r2v-test"]  # one lookup; the system resolver (which knows no such host) never ran


@pytest.mark.parametrize("answer", [["8.8.8.8", "127.0.0.1"], ["::ffff:10.0.0.1"], ["100.64.1.1"], ["fd00::1"]])
def test_any_non_public_answer_refuses_the_host(answer, tmp_path):
    with pytest.raises(TaskFailure) as info:
        download("http://cdn.r2v-test/a.png", FIELD, tmp_path / "a", 10**7, FetchPolicy(resolve=_Resolver(answer)))
    assert info.value.code == "BadRequest.InputDownloadFailed"
    assert info.value.message.startswith(FIELD + ": ") and "non-public address" in info.value.message


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


def test_content_coding_is_refused(tmp_path):
    host = HostileServer(tmp_path, host="127.0.0.1")
    try:
        with pytest.raises(TaskFailure, match="content coding 'gzip'"):
            download(host.url("gzip"), FIELD, tmp_path / "g", 10**6, FetchPolicy(allow_private=True))
    finally:
        host.close()


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

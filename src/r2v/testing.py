"""A pytest plugin for apps' own tests: an r2v emulator (`r2v serve --emulate`) to point the official SDKs at.

In the app's conftest.py:

    pytest_plugins = ["r2v.testing"]

and in a test:

    def test_video_fails_cleanly(r2v_emulator):
        dashscope.base_http_api_url = r2v_emulator.base_url
        rsp = VideoSynthesis.call(api_key=r2v_emulator.api_key, model="wan2.7-r2v", prompt="...", media=[...],
                                  headers=r2v_emulator.scenario("fail=DataInspectionFailed"))
        assert rsp.output.task_status == "FAILED"

One emulator serves the whole test session, on a free loopback port, with a temporary data folder; it is reset
(rules, recorded requests and tasks cleared) before each test that uses the fixture. With R2V_EMULATOR_URL set
(e.g. http://127.0.0.1:8000, an emulator started elsewhere), that one is used instead and none is started."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from r2v.config import EMULATOR_API_KEY
from r2v.protocol.scenario import HEADER

START_TIMEOUT_S = 60.0
CONTROL = "/r2v/emulator"


@dataclass(frozen=True)
class Emulator:
    """A running emulator, as a test sees it."""

    url: str  # the server's root: http://127.0.0.1:PORT
    api_key: str

    @property
    def base_url(self) -> str:
        """The DashScope base URL (dashscope.base_http_api_url): it ends in /api/v1."""
        return f"{self.url}/api/v1"

    @property
    def openai_base_url(self) -> str:
        """The base URL of the OpenAI-style video API (openai.OpenAI(base_url=...))."""
        return f"{self.url}/v1"

    @staticmethod
    def scenario(directives: str) -> dict[str, str]:
        """The header that scripts one call: `headers=r2v_emulator.scenario("pending=2;fail=InternalError")`."""
        return {HEADER: directives}

    def add_rule(self, scenario: str, times: int | None = None, **match: str) -> dict:
        """A rule for calls that cannot carry the header; `match`: model=, prompt_contains=, path=."""
        body: dict = {"match": match, "scenario": scenario}
        if times is not None:
            body["times"] = times
        return self._call("POST", "/rules", json=body)

    def rules(self) -> list[dict]:
        return self._call("GET", "/rules")["rules"]

    def clear_rules(self) -> int:
        return self._call("DELETE", "/rules")["deleted"]

    def requests(self) -> list[dict]:
        """The calls the emulator received since the last reset, oldest first (secrets redacted)."""
        return self._call("GET", "/requests")["requests"]

    def reset(self) -> None:
        self._call("POST", "/reset")

    def _call(self, method: str, path: str, **kwargs) -> dict:
        answer = httpx.request(method, f"{self.url}{CONTROL}{path}", timeout=60, **kwargs)
        if answer.status_code != 200:
            raise AssertionError(f"r2v emulator: {method} {path} answered {answer.status_code}: {answer.text}")
        return answer.json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"r2v emulator exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"r2v emulator did not answer within {START_TIMEOUT_S:g} s:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def running_emulator(api_key: str = EMULATOR_API_KEY, env: dict[str, str] | None = None) -> Iterator[Emulator]:
    """`r2v serve --emulate` in a process of its own on a free loopback port, with a temporary data folder and
    `api_key` as its one key (`env`: more variables for it); stopped on leaving."""
    with tempfile.TemporaryDirectory(prefix="r2v-emulator-") as home:
        port, log = free_port(), Path(home) / "server.log"
        command = [sys.executable, "-m", "r2v", "serve", "--emulate", "--host", "127.0.0.1", "--port", str(port),
                   "--data-dir", str(Path(home) / "data")]  # fmt: skip
        variables = {**os.environ, **(env or {}), "R2V_API_KEYS": api_key}
        with open(log, "wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=variables)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, process, log)
            yield Emulator(url=url, api_key=api_key)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def r2v_emulator_server() -> Iterator[Emulator]:
    """The session's emulator: R2V_EMULATOR_URL's, or one started here and stopped at the end of the session."""
    given = os.environ.get("R2V_EMULATOR_URL")
    if given:
        yield Emulator(url=given.rstrip("/"), api_key=os.environ.get("R2V_EMULATOR_API_KEY", EMULATOR_API_KEY))
        return
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def r2v_emulator(r2v_emulator_server: Emulator) -> Emulator:
    """The session's emulator, reset for this test: no rules, no recorded requests, no tasks."""
    r2v_emulator_server.reset()
    return r2v_emulator_server

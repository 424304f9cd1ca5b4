"""Test helpers: a real `r2v serve` subprocess, a loopback media server, and an output prober."""

from __future__ import annotations

import functools
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av
import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m r2v serve` on a free loopback port, with its own data dir."""

    started: list[subprocess.Popen] = []  # every server any test started, so none can outlive the session

    @classmethod
    def kill_all(cls) -> None:
        for proc in cls.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the server and its workers (one process group)
                proc.wait(timeout=10)

    def __init__(
        self, data_dir: Path, api_keys: str, workers: int = 1, extra_args: tuple = (), env: dict | None = None
    ):
        self.data_dir = data_dir
        self.port = free_port()
        self.workers = workers
        self.extra_args = extra_args
        # Rate limits off unless a test turns them on: most tests burst faster than 5 creates/s on purpose.
        self.env = {**os.environ, "R2V_API_KEYS": api_keys, "R2V_ALLOW_PRIVATE_URLS": "1", "R2V_RATE_LIMITS": "off",
                    **(env or {})}  # fmt: skip
        self.proc: subprocess.Popen | None = None
        self._killed = False  # by kill9(): then stop() has nothing to check
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.base + "/api/v1"

    def start(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        args = [sys.executable, "-m", "r2v", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
                "--workers", str(self.workers), *self.extra_args]  # fmt: skip
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("start() while the previous server process still runs; stop() or kill9() it first")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        self._killed = False
        ServerProcess.started.append(self.proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy in 60 s")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it: the server shuts down gracefully and exits with status 0 (a
        server that crashed on its own before this, or that does not stop within a minute, fails the test)."""
        if self.proc is None or self._killed:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
                raise AssertionError(f"the server ignored SIGTERM for 60 s: {self.log_tail()}") from None
        assert self.proc.returncode == 0, f"the server exited with {self.proc.returncode}: {self.log_tail()}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def kill9(self) -> None:
        """SIGKILL the server process only (its workers die with it through PR_SET_PDEATHSIG)."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self._killed = True

    def worker_pids(self) -> list[int]:
        """The pids of its render worker processes now."""
        return workers_of(self.proc.pid)


def children_of(pid: int) -> list[int]:
    """The live (not zombie) child processes of `pid`."""
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


def workers_of(pid: int) -> list[int]:
    """The render worker processes of a server (its other child is multiprocessing's resource tracker)."""
    found = []
    for child in children_of(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:  # it exited meanwhile
            pass
    return found


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@dataclass
class MediaServer:
    """Serves a folder over HTTP on loopback (the tests' stand-in for a CDN)."""

    root: Path
    port: int = 0

    def __post_init__(self) -> None:
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self._httpd.shutdown()


def probe_output(path: Path) -> dict:
    """What a player would see: codec, pixel format, fps, decoded frame count, size, audio streams."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        info = {
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "fps": float(video.average_rate),
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "audio": [(a.codec_context.name, a.sample_rate) for a in container.streams.audio],
        }
        info["frames"] = sum(1 for _ in container.decode(video=0))
    with open(path, "rb") as f:
        head = f.read(64)
    info["moov_first"] = b"moov" in head[:64]
    return info


def assert_spec_video(path: Path, width: int, height: int, duration: int, audio: bool = True) -> dict:
    info = probe_output(path)
    assert info["codec"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert info["fps"] == 30.0
    assert info["frames"] == duration * 30
    assert (info["width"], info["height"]) == (width, height)
    assert info["moov_first"], "+faststart: the moov atom must come before the media data"
    if audio:
        assert info["audio"] == [("aac", 48000)]
    else:
        assert info["audio"] == []
    return info


def download(url: str, dest: Path) -> Path:
    response = httpx.get(url, timeout=60)
    response.raise_for_status()
    assert response.headers["content-type"] == "video/mp4"
    dest.write_bytes(response.content)
    return dest


def wait_status(fetch, wanted: set[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = fetch()
        if output["task_status"] in wanted:
            return output
        time.sleep(0.05)
    raise AssertionError(f"status never reached {wanted}: last {output}")


def run_small_task(server: ServerProcess, url: str, key: str) -> dict:
    """Create a 2 s 720P task of one reference image on `server` and wait for its end; its final output."""
    headers = {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"}
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": url}]},
            "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
    answer = httpx.post(server.api + "/services/aigc/video-generation/video-synthesis", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    task_id = answer.json()["output"]["task_id"]
    return wait_status(lambda: httpx.get(f"{server.api}/tasks/{task_id}", headers=headers).json()["output"],
                       {"SUCCEEDED", "FAILED"})  # fmt: skip


def result_files(results: Path) -> dict[str, Path]:
    """task id -> its one result file, in a local store's results/<task>/<attempt>.mp4 layout (a task with more
    than one result file fails the caller's test)."""
    found = {}
    for task_dir in sorted(results.iterdir()):
        files = sorted(task_dir.iterdir())
        assert len(files) == 1, f"task {task_dir.name} has {len(files)} result files: {files}"
        found[task_dir.name] = files[0]
    return found

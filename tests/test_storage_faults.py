"""A data dir that cannot be written, or a full disk, fails the affected task with InternalError; the server
keeps answering, and once the fault is gone the next task succeeds."""

from __future__ import annotations

import shutil
import subprocess

import httpx
import pytest

from tests.conftest import KEY
from tests.helpers import ServerProcess, run_small_task

pytestmark = pytest.mark.server

HEADERS = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}


def _run_task(server: ServerProcess, url: str) -> dict:
    return run_small_task(server, url, KEY)


def _assert_fault_fails_the_task_only(server: ServerProcess, url: str, heal) -> None:
    """Under the fault a task fails with InternalError and the server keeps answering; healed, it renders."""
    failed = _run_task(server, url)
    assert failed["task_status"] == "FAILED" and failed["code"] == "InternalError", failed
    assert httpx.get(server.base + "/healthz").json()["status"] == "ok"
    assert httpx.get(server.api + "/tasks", headers=HEADERS).status_code == 200
    heal()
    assert _run_task(server, url)["task_status"] == "SUCCEEDED"


def test_unwritable_results_dir_fails_the_task_not_the_server(tmp_path, media):
    server = ServerProcess(tmp_path / "data", KEY).start()
    try:
        results = tmp_path / "data" / "files" / "results"
        shutil.rmtree(results, ignore_errors=True)
        results.write_bytes(b"a file where the results directory should be")  # even root cannot write into it
        _assert_fault_fails_the_task_only(server, media.url("girl.png"), results.unlink)
    finally:
        server.stop()
    assert "Traceback" in server.log_path.read_text()  # the cause is logged for the operator, not sent


def test_full_disk_fails_the_task_not_the_server(tmp_path, media):
    files = tmp_path / "data" / "files"
    files.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(files)], capture_output=True)
    if mounted.returncode != 0:  # CI runs as root; a test that cannot set up its fault must not pass silently
        pytest.fail(f"the full-disk test needs a 4 MB tmpfs (mount, as root) and could not mount it: "
                    f"{mounted.stderr.decode().strip()}")  # fmt: skip
    server = ServerProcess(tmp_path / "data", KEY).start()
    try:
        # Fill the disk but for 4 KB: less than any video (a 2 s still 720P render is about 50 KB); the render
        # itself runs in the data dir's scratch room, and storing its result is what meets the full disk.
        filler = files / "filler"
        filler.write_bytes(b"\0" * (shutil.disk_usage(files).free - 4096))
        _assert_fault_fails_the_task_only(server, media.url("girl.png"), filler.unlink)
    finally:
        server.stop()
        subprocess.run(["umount", "-l", str(files)], capture_output=True)

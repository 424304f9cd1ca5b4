"""`make demo` runs `python -m r2v.demo` once r2v is installed: the user guide's multi-subject example through the
dashscope SDK (local files, uploaded by the SDK) against a server it starts on loopback. Run here as make runs it,
in an empty directory: it succeeds, prints the MP4's path last, and that MP4 is spec-exact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import assert_spec_video

pytestmark = pytest.mark.server


def test_make_demo_renders_the_guide_example(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("R2V_")}  # as a new user runs it
    done = subprocess.run([sys.executable, "-m", "r2v.demo"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    video = Path(lines[-1])
    assert video == tmp_path / "demo-output" / "r2v-demo.mp4"
    assert lines[-2].startswith("task ") and ": SUCCEEDED, usage {" in lines[-2], lines
    assert "'output_video_duration': 10" in lines[-2] and "'SR': 720" in lines[-2] and "'ratio': '16:9'" in lines[-2]
    assert_spec_video(video, 1280, 720, 10)
    server_log = (tmp_path / "demo-output" / "server.log").read_text()
    assert "Traceback" not in server_log, server_log
    assert "stopped: the workers" in server_log, server_log  # the demo's server shut down gracefully

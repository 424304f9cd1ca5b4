"""The command line: `r2v generate` (the pipeline without a server) and `r2v keys create`."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.helpers import ServerProcess, assert_spec_video

pytestmark = pytest.mark.server


def _r2v(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "r2v", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_generate_with_local_paths(assets, tmp_path):
    request = {
        "model": "wan2.7-r2v",
        "input": {"prompt": "图1拿着图2，视频1在旁边", "media": [
            {"type": "reference_image", "url": str(assets["girl"]), "reference_voice": str(assets["girl_voice"])},
            {"type": "reference_image", "url": f"file://{assets['sunflowers']}"},
            {"type": "reference_video", "url": "boy.mp4"}]},  # relative to the working directory
        "parameters": {"resolution": "720P", "ratio": "1:1", "duration": 3, "watermark": True, "seed": 11},
    }  # fmt: skip
    (tmp_path / "req.json").write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.mp4"
    done = _r2v("generate", str(tmp_path / "req.json"), "-o", str(out), cwd=assets["boy_video"].parent)
    assert done.returncode == 0, done.stderr
    assert "rendering" in done.stderr  # the progress bar
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["video"] == str(out) and summary["usage"]["ratio"] == "1:1"
    assert_spec_video(out, 960, 960, 3)
    again = tmp_path / "again.mp4"
    assert (
        _r2v("generate", str(tmp_path / "req.json"), "-o", str(again), "-q", cwd=assets["boy_video"].parent).returncode
        == 0
    )
    assert again.read_bytes() == out.read_bytes()  # same request, same seed: same bytes


def test_generate_reports_errors_with_the_field(assets, tmp_path):
    request = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
        {"type": "reference_image", "url": str(assets["boy_voice"])}]}}  # fmt: skip
    (tmp_path / "bad.json").write_text(json.dumps(request))
    done = _r2v("generate", str(tmp_path / "bad.json"), "-o", str(tmp_path / "x.mp4"), "-q")
    assert done.returncode == 2
    assert "BadRequest.UnsupportedFileFormat: input.media[0].url" in done.stderr
    missing = {
        "model": "wan2.7-r2v",
        "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": "nope.png"}]},
    }
    (tmp_path / "missing.json").write_text(json.dumps(missing))
    done = _r2v("generate", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x.mp4"), "-q")
    assert done.returncode == 2 and "input.media[0].url" in done.stderr


def test_keys_create_then_use_it(tmp_path, media):
    data = tmp_path / "data"
    made = _r2v("keys", "create", "--name", "ci", "--data-dir", str(data))
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("sk-") and len(key) > 40
    import sqlite3

    with sqlite3.connect(data / "r2v.sqlite3") as db:
        stored = db.execute("SELECT name, key_hash FROM api_keys").fetchall()
    assert stored[0][0] == "ci" and key not in stored[0][1]  # only the hash is stored

    server = ServerProcess(data, api_keys="", workers=1).start()
    try:
        ok = httpx.get(server.api + "/tasks", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        bad = httpx.get(server.api + "/tasks", headers={"Authorization": f"Bearer {key}x"})
        assert bad.status_code == 401
    finally:
        server.stop()

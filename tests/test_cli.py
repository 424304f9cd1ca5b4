"""The command line: `r2v generate` (the pipeline without a server), `r2v keys create/list/revoke` against a
running server, `r2v --version`, and every subcommand's --help showing its defaults."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib.metadata import version

import httpx
import pytest

from r2v.cli import build_parser
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


def test_keys_create_list_revoke_on_a_running_server(tmp_path):
    data = tmp_path / "data"
    made = _r2v("keys", "create", "--name", "ci", "--data-dir", str(data))
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("sk-") and len(key) > 40
    import sqlite3

    with sqlite3.connect(data / "r2v.sqlite3") as db:
        stored = db.execute("SELECT name, key_hash FROM api_keys").fetchall()
    assert stored[0][0] == "ci" and key not in stored[0][1]  # only the hash is stored
    other = _r2v("keys", "create", "--name", "alice laptop", "--data-dir", str(data)).stdout.strip()

    listed = _r2v("keys", "list", "--json", "--data-dir", str(data))
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(row["name"], row["revoked_ms"]) for row in rows] == [("ci", None), ("alice laptop", None)]
    ci_id = rows[0]["key_id"]
    table = _r2v("keys", "list", "--data-dir", str(data)).stdout
    assert table.split("\n")[0].split() == ["ID", "NAME", "CREATED", "STATUS"]
    assert ci_id in table and "alice laptop" in table and table.count("active") == 2
    assert key not in listed.stdout + table and other not in listed.stdout + table  # never the secret

    server = ServerProcess(data, api_keys="", workers=1).start()
    try:
        for secret in (key, other):
            assert httpx.get(server.api + "/tasks", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        bad = httpx.get(server.api + "/tasks", headers={"Authorization": f"Bearer {key}x"})
        assert bad.status_code == 401
        revoked = _r2v("keys", "revoke", ci_id, "--data-dir", str(data))  # while the server runs
        assert revoked.returncode == 0, revoked.stderr
        assert ci_id in revoked.stdout and "revoked" in revoked.stdout
        refused = httpx.get(server.api + "/tasks", headers={"Authorization": f"Bearer {key}"})  # at once
        assert refused.status_code == 401 and refused.json()["code"] == "InvalidApiKey", refused.text
        assert httpx.get(server.api + "/tasks", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    finally:
        server.stop()
    rows = json.loads(_r2v("keys", "list", "--json", "--data-dir", str(data)).stdout)
    assert rows[0]["key_id"] == ci_id and rows[0]["revoked_ms"] >= rows[0]["created_ms"]
    assert rows[1]["revoked_ms"] is None
    assert "revoked 20" in _r2v("keys", "list", "--data-dir", str(data)).stdout  # when, in UTC
    unknown = _r2v("keys", "revoke", "no-such-id", "--data-dir", str(data))
    assert unknown.returncode == 2 and "no stored key has the id 'no-such-id'" in unknown.stderr


def test_version():
    done = _r2v("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"r2v {version('r2v')}"


def _subcommands(parser: argparse.ArgumentParser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _subcommands(child, (*path, name))
    if path:
        yield " ".join(path), parser


def test_every_option_of_every_subcommand_shows_its_default():
    """An option a user may leave out says in --help what it is then: its value, or where the value comes from."""
    commands = dict(_subcommands(build_parser()))
    assert {"serve", "worker", "keys create", "keys list", "keys revoke", "generate", "db upgrade"} <= set(commands)
    for command, parser in commands.items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            on_off = action.nargs == 0  # --help, --quiet, --json: a flag is off unless given
            if not action.option_strings or action.required or on_off:
                continue
            shown = formatter._expand_help(action)
            assert "(default: " in shown, f"r2v {command} {action.option_strings[0]}: {shown!r}"
    serve = _r2v("serve", "--help").stdout
    for default in ("(default: 127.0.0.1)", "(default: 8000)", "(default: cn-beijing)", "else animatic)"):
        assert default in serve, default
    assert "(default: 1;" in serve  # --workers

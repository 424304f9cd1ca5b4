"""Backends chosen by URL: `r2v serve --database URL --storage URL` (or R2V_DATABASE_URL, R2V_STORAGE_URL) keeps
tasks and files exactly where the URLs say; today's layout is the default; an unknown scheme stops the command with
an error that names the option and the scheme."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import httpx
import pytest

from tests.conftest import KEY
from tests.helpers import ServerProcess, assert_spec_video, run_small_task

pytestmark = pytest.mark.server


def _render_one(server: ServerProcess, url: str) -> str:
    output = run_small_task(server, url, KEY)
    assert output["task_status"] == "SUCCEEDED", output
    assert httpx.get(output["video_url"]).status_code == 200
    return output["task_id"]


def test_the_database_and_the_files_live_where_the_urls_say(tmp_path, media):
    database, files = tmp_path / "db" / "tasks.sqlite3", tmp_path / "blobs"
    server = ServerProcess(tmp_path / "data", KEY, extra_args=("--database", f"sqlite://{database}",
                                                               "--storage", f"file://{files}"))  # fmt: skip
    server.start()
    try:
        task_id = _render_one(server, media.url("girl.png"))
    finally:
        server.stop()
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT status FROM tasks WHERE task_id = ?", (task_id,)).fetchone() == ("SUCCEEDED",)
    assert_spec_video(files / "results" / task_id / "1.mp4", 1280, 720, 2)
    data = tmp_path / "data"  # the data dir keeps only the signing secret and the scratch room
    assert not (data / "r2v.sqlite3").exists() and not (data / "files").exists()


def test_the_environment_variables_name_the_backends_too(tmp_path, media):
    database, files = tmp_path / "elsewhere.sqlite3", tmp_path / "store"
    server = ServerProcess(tmp_path / "data", KEY, env={"R2V_DATABASE_URL": f"sqlite:///{database}",  # 4 slashes
                                                        "R2V_STORAGE_URL": f"file://{files}"})  # fmt: skip
    server.start()
    try:
        task_id = _render_one(server, media.url("girl.png"))
    finally:
        server.stop()
    assert database.is_file() and (files / "results" / task_id / "1.mp4").is_file()


def test_without_urls_the_data_dir_holds_everything(tmp_path, media):
    server = ServerProcess(tmp_path / "data", KEY).start()
    try:
        task_id = _render_one(server, media.url("girl.png"))
    finally:
        server.stop()
    assert (tmp_path / "data" / "r2v.sqlite3").is_file()
    assert (tmp_path / "data" / "files" / "results" / task_id / "1.mp4").is_file()


def _r2v(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "r2v", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})  # fmt: skip


@pytest.mark.parametrize(
    "args, env, message",
    [
        (("--database", "mysql://db.example/r2v"), {}, "--database: unknown scheme 'mysql' (expected sqlite://"),
        (("--storage", "s3x://bucket/prefix"), {}, "--storage: unknown scheme 's3x' (expected file://"),
        ((), {"R2V_DATABASE_URL": "postgres://x"}, "the database at postgresql://x cannot be reached"),
        (("--database", "r2v.sqlite3"), {}, "--database: 'r2v.sqlite3' is not a URL (expected sqlite://"),
    ],
)
def test_an_unknown_scheme_stops_serve_naming_the_option(tmp_path, args, env, message):
    done = _r2v("serve", "--data-dir", str(tmp_path / "data"), "--port", "1", *args, env=env)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_keys_are_created_in_the_database_the_url_names(tmp_path):
    database = tmp_path / "keys.sqlite3"
    done = _r2v("keys", "create", "--name", "ci", "--data-dir", str(tmp_path / "data"), "--database",
                f"sqlite://{database}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT name FROM api_keys").fetchall() == [("ci",)]
    refused = _r2v("keys", "create", "--name", "ci", "--database", "redis://x")
    assert refused.returncode == 2 and "--database: unknown scheme 'redis'" in refused.stderr

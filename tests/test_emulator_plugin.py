"""The pytest plugin r2v.testing used as an app uses it: examples/app-tests (a small app, its conftest with
`pytest_plugins = ["r2v.testing"]`, and its tests against the `r2v_emulator` fixture with the dashscope SDK) is run
by its own pytest, outside this repository, and every one of its tests must pass."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

APP = Path(__file__).resolve().parents[1] / "examples" / "app-tests"


def _run_app_tests(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=folder,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_an_apps_own_tests_pass_against_the_emulator_fixture(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(APP, app)
    done = _run_app_tests(app)
    assert done.returncode == 0, done.stdout + done.stderr
    tests = len(re.findall(r"^def test_", (APP / "test_video_app.py").read_text(), re.M))
    assert f"{tests} passed" in done.stdout, done.stdout


def test_a_failing_app_test_fails_with_the_emulator_answer(tmp_path):
    """The fixture is no rubber stamp: an app test whose expectation the emulator contradicts fails."""
    app = tmp_path / "app"
    shutil.copytree(APP, app)
    (app / "test_wrong.py").write_text(
        "from video_app import make_clip\n\n"
        "def test_expects_success_of_a_failing_task(service):\n"
        "    make_clip(service.api_key, '图1', 'https://example.com/x.png',\n"
        "              headers=service.scenario('fail=InternalError:the GPU caught fire'))\n"
    )
    done = _run_app_tests(app, "test_wrong.py")
    assert done.returncode == 1 and "the GPU caught fire" in done.stdout, done.stdout + done.stderr

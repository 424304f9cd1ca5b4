"""Layering: the HTTP layer and the engine registry load no decoder and no model library, so the API process stays
small and fast to start; the ports are abstract. (The import rules themselves are import-linter's contracts in
pyproject.toml, run by `make test`.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

HEAVY = ("av", "cv2", "PIL", "torch", "diffusers", "r2v.render", "r2v.media.probe", "r2v.engines.animatic")


def _loaded_after(imports: str) -> list[str]:
    code = f"import sys, {imports}\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    return eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def test_api_process_imports_no_engine_or_decoder():
    assert _loaded_after("r2v.api.app, r2v.cli, r2v.worker.pool, r2v.wiring") == []


def test_the_engine_registry_loads_an_engine_only_when_it_is_built():
    assert _loaded_after("r2v.engines") == []
    assert "av" in _loaded_after("r2v.engines; r2v.engines.get_engine('animatic')")


def test_ports_are_abstract():
    from inspect import isabstract

    from r2v.engines.base import Engine
    from r2v.keys import KeyStore
    from r2v.storage.blobs import BlobStore
    from r2v.storage.uploads import UploadRegistry
    from r2v.tasks.store import TaskStore

    assert all(isabstract(port) for port in (Engine, KeyStore, BlobStore, TaskStore, UploadRegistry))


def test_checking_the_wan_folder_at_startup_loads_nothing_heavy(tmp_path):
    """`r2v serve --engine wan` refuses a wrong folder in the API process, without importing torch or decoders."""
    code = (
        "import sys, argparse, r2v.cli\n"
        "from r2v.config import Settings\n"
        f"ns = argparse.Namespace(engine='wan', wan_model_dir={str(tmp_path)!r}, wan_steps=None, wan_shift=None,"
        " wan_resolution=None)\n"
        "print(r2v.cli._engine_problem(Settings(**r2v.cli._engine_settings(ns))))\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert "no model_index.json" in out[0] and out[1] == "[]"

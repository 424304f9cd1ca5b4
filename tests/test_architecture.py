"""Layering: the HTTP layer loads no decoder and no engine, so the API process stays small and fast to start."""

from __future__ import annotations

import subprocess
import sys


def test_api_process_imports_no_engine_or_decoder():
    code = (
        "import sys, r2v.api.app, r2v.cli, r2v.worker.pool\n"
        "heavy = [m for m in ('av', 'cv2', 'PIL', 'torch', 'r2v.engines', 'r2v.render', 'r2v.media.probe') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_ports_are_abstract():
    from inspect import isabstract

    from r2v.engines.base import Engine
    from r2v.keys import KeyStore
    from r2v.storage.blobs import BlobStore
    from r2v.tasks.store import TaskStore

    assert all(isabstract(port) for port in (Engine, KeyStore, BlobStore, TaskStore))


def test_checking_the_wan_folder_at_startup_loads_nothing_heavy(tmp_path):
    """`r2v serve --engine wan` refuses a wrong folder in the API process, without importing torch or decoders."""
    code = (
        "import sys, argparse, r2v.cli\n"
        "from r2v.config import Settings\n"
        f"ns = argparse.Namespace(engine='wan', wan_model_dir={str(tmp_path)!r}, wan_steps=None, wan_shift=None,"
        " wan_resolution=None)\n"
        "print(r2v.cli._engine_problem(Settings(**r2v.cli._engine_settings(ns))))\n"
        "print([m for m in ('av', 'cv2', 'torch', 'diffusers', 'r2v.engines', 'r2v.render') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert "no model_index.json" in out[0] and out[1] == "[]"

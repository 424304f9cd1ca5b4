"""A multi-machine r2v on one test machine: API processes (`r2v serve --workers 0`) and render workers (`r2v worker`)
sharing a fresh PostgreSQL database and a fresh S3 bucket, each process with its own data dir, as on separate
machines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from r2v import wiring
from tests.helpers import ServerProcess
from tests.pgserver import postgres

READY = "render(s) at once"  # what `r2v worker` prints once its engines are loaded and it takes jobs


class WorkerProcess:
    """`python -m r2v worker` with its own data dir (scratch)."""

    def __init__(self, data_dir: Path, args: list[str], env: dict[str, str], concurrency: int = 1):
        self.data_dir = data_dir
        self.args = args
        self.env = env
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-worker.log"

    def start(self, wait: bool = True) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        command = [sys.executable, "-m", "r2v", "worker", "--data-dir", str(self.data_dir),
                   "--concurrency", str(self.concurrency), *self.args]  # fmt: skip
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)  # fmt: skip
        ServerProcess.started.append(self.proc)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}: {self.log_tail()}")
            if READY in self.log_tail(100_000):
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready in {timeout_s} s: {self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def kill9(self) -> None:
        """SIGKILL: as a crash or a lost machine (no goodbye, no hand-back)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"the worker ignored SIGTERM for 60 s: {self.log_tail()}") from None


@dataclass
class Cluster:
    """A fresh database (schema upgraded) and bucket; processes are added by the test."""

    root: Path
    storage_url: str
    storage_env: dict[str, str]
    api_keys: str
    env: dict[str, str] = field(default_factory=dict)
    database_url: str = ""
    apis: list[ServerProcess] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.database_url = postgres().new_database()
        wiring.upgrade_database(self.database_url)

    def backend_args(self) -> list[str]:
        return ["--database", self.database_url, "--storage", self.storage_url]

    def process_env(self) -> dict[str, str]:
        return {**os.environ, "R2V_API_KEYS": self.api_keys, "R2V_ALLOW_PRIVATE_URLS": "1", "R2V_RATE_LIMITS": "off",
                **self.storage_env, **self.env}  # fmt: skip

    def add_api(self, extra_args: tuple = (), env: dict | None = None) -> ServerProcess:
        api = ServerProcess(self.root / f"api{len(self.apis)}", self.api_keys, workers=0,
                            extra_args=(*self.backend_args(), *extra_args),
                            env={**self.storage_env, **self.env, **(env or {})})  # fmt: skip
        self.apis.append(api.start())
        return api

    def add_worker(self, concurrency: int = 1, extra_args: tuple = (), wait: bool = True) -> WorkerProcess:
        worker = WorkerProcess(self.root / f"worker{len(self.workers)}", [*self.backend_args(), *extra_args],
                               self.process_env(), concurrency)  # fmt: skip
        self.workers.append(worker.start(wait=wait))
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.kill9()
        for api in self.apis:
            if api.proc is not None and api.proc.poll() is None:
                api.stop()

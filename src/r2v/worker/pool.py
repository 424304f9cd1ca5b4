"""Worker processes for the embedded server.

Renders run in their own processes (lower CPU priority), so the API stays responsive while a video is made.
Each worker claims tasks atomically from the database. A supervisor thread in the server restarts a worker
that died and puts its task back in the queue; a worker dies with the server (PR_SET_PDEATHSIG), so after a
kill -9 of the server, the next start finds the task RUNNING with no one on it and runs it again."""

from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import signal
import threading
import time

from r2v.clock import Clock
from r2v.config import Settings

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: fall back on the parent-pid check in the loop
        pass


def worker_main(name: str, settings: Settings, parent_pid: int) -> None:
    _die_with_parent()
    if os.getppid() != parent_pid:
        return
    try:
        os.nice(10)
    except OSError:
        pass
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    from r2v.wiring import build_runner  # imported here: engines load in the worker, never in the API process

    runner, store, clock = build_runner(settings)
    while os.getppid() == parent_pid:
        task = store.claim_next(name, clock.now_ms(), settings.max_running_per_key)
        if task is None:
            time.sleep(settings.poll_interval_s)
            continue
        log.info("running task %s (attempt %s)", task.task_id, task.attempt)
        runner.run(task)


class WorkerPool:
    def __init__(self, settings: Settings, clock: Clock, requeue):
        self.settings = settings
        self.clock = clock
        self._requeue = requeue  # callable(worker name): put that worker's RUNNING task back
        self._ctx = mp.get_context("spawn")
        self._procs: dict[str, mp.Process] = {}
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="r2v-worker-monitor", daemon=True)

    def _spawn(self, name: str) -> None:
        proc = self._ctx.Process(target=worker_main, args=(name, self.settings, os.getpid()), name=name, daemon=True)
        proc.start()
        self._procs[name] = proc

    def start(self) -> None:
        for i in range(self.settings.workers):
            self._spawn(f"worker-{i}")
        self._monitor.start()

    def alive(self) -> int:
        return sum(p.is_alive() for p in self._procs.values())

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for name, proc in list(self._procs.items()):
                if not proc.is_alive() and not self._stop.is_set():
                    log.warning("%s exited with %s; requeueing its task and restarting it", name, proc.exitcode)
                    self._requeue(name)
                    self._spawn(name)

    def stop(self) -> None:
        self._stop.set()
        for proc in self._procs.values():
            proc.terminate()
        for proc in self._procs.values():
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()

"""Worker processes for the embedded server.

Renders run in their own processes (lower CPU priority), so the API stays responsive while a video is made.
Each worker claims tasks atomically from the database. A supervisor thread in the server restarts a worker
that died and puts its task back in the queue; a worker dies with the server (PR_SET_PDEATHSIG), so after a
kill -9 of the server, the next start finds the task RUNNING with no one on it and runs it again. A graceful
stop (SIGTERM) stops the workers and puts their tasks back in the queue itself.

A render is bounded: each worker runs under an address-space limit (R2V_WORKER_MEMORY_MB), and the supervisor
fails a task that runs longer than R2V_TASK_TIMEOUT_S and kills its worker, since a decoder stuck in C code
cannot be interrupted any other way."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from r2v.clock import Clock
from r2v.lifetime import die_with_parent, set_process_name
from r2v.tasks.store import TaskStore

if TYPE_CHECKING:  # the runner (and the engines behind it) load in the worker processes only
    from r2v.worker.runner import TaskRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolOptions:
    """How the render workers run (from the settings, through the composition root)."""

    workers: int = 1
    memory_mb: int = 16384  # R2V_WORKER_MEMORY_MB: address space per worker
    task_timeout_s: float = 1800.0  # R2V_TASK_TIMEOUT_S
    max_running_per_key: int | None = 5  # the per-key cap on tasks rendering at once (None: no cap)
    poll_interval_s: float = 0.2


# Builds a worker's TaskRunner in the worker process itself (the engines load there, never in the API process). It
# crosses into the spawned process by pickling, so it is a module-level function or a functools.partial of one.
RunnerFactory = Callable[[], "TaskRunner"]


def _limit_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def worker_main(name: str, options: PoolOptions, parent_pid: int, make_runner: RunnerFactory) -> None:
    die_with_parent()
    set_process_name(f"r2v-{name}")  # ps and top tell the workers apart
    # Ctrl+C reaches the whole process group: the server decides when its workers stop (SIGTERM), not the key.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent_pid:
        return
    try:
        os.nice(10)
    except OSError:
        pass
    _limit_memory(options.memory_mb)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    runner = make_runner()
    runner.warm_up()
    while os.getppid() == parent_pid:
        task = runner.store.claim_next(name, runner.clock.now_ms(), options.max_running_per_key)
        if task is None:
            time.sleep(options.poll_interval_s)
            continue
        log.info("running task %s (attempt %s)", task.task_id, task.attempt)
        runner.run(task)


class WorkerPool:
    def __init__(self, options: PoolOptions, clock: Clock, store: TaskStore, make_runner: RunnerFactory):
        self.options = options
        self.clock = clock
        self.store = store
        self.make_runner = make_runner
        self._ctx = mp.get_context("spawn")
        self._procs: dict[str, mp.Process] = {}
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="r2v-worker-monitor", daemon=True)

    def _spawn(self, name: str) -> None:
        args = (name, self.options, os.getpid(), self.make_runner)
        proc = self._ctx.Process(target=worker_main, args=args, name=name, daemon=True)
        proc.start()
        self._procs[name] = proc

    def start(self) -> None:
        for i in range(self.options.workers):
            self._spawn(f"worker-{i}")
        self._monitor.start()

    def alive(self) -> int:
        return sum(p.is_alive() for p in self._procs.values())

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for name, proc in list(self._procs.items()):
                if self._stop.is_set():
                    return
                if proc.is_alive() and self._overdue(name):
                    proc.kill()
                    proc.join(timeout=5)
                if not proc.is_alive():
                    log.warning("%s exited with %s; requeueing its task and restarting it", name, proc.exitcode)
                    self.store.requeue_running(self.clock.now_ms(), name)
                    self._spawn(name)

    def _overdue(self, name: str) -> bool:
        """Fail the task `name` runs if it is past the time limit (the caller then kills the worker)."""
        now = self.clock.now_ms()
        limit_s = self.options.task_timeout_s
        message = f"rendering took longer than the {limit_s:g} s limit (R2V_TASK_TIMEOUT_S)"
        if self.store.fail_overdue(name, now - int(limit_s * 1000), now, message):
            log.warning("%s: its task ran past %g s; failing it and restarting the worker", name, limit_s)
            return True
        return False

    def stop(self) -> int:
        """Stop the workers (a render in progress is cut short: it cannot be paused) and put the tasks they ran
        back in the queue, so that the next start renders them. Returns how many tasks went back. Unlike a crash,
        a stop does not use up one of the task's attempts: restarting a server is not the task's fault."""
        self._stop.set()
        if self._monitor.is_alive():
            self._monitor.join()  # it must not restart the workers stopped here
        for proc in self._procs.values():
            proc.terminate()
        for proc in self._procs.values():
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        return sum(self.store.release_running(name) for name in self._procs)

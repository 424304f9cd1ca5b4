"""The render limits of an `r2v worker` process: R2V_TASK_TIMEOUT_S and R2V_WORKER_MEMORY_MB.

The embedded server bounds a render from outside, in a worker process it can kill. A cluster worker renders in its
own process (its engines, on a GPU, load once there), so it watches itself: once a second, a thread looks at each
render in progress and at the process's resident memory.

- A render past R2V_TASK_TIMEOUT_S is failed in the store (InternalError, naming the limit) and asked to stop, as a
  cancel asks it; the worker then takes the next job.
- When the process's resident memory has grown by more than R2V_WORKER_MEMORY_MB above its size once the engines
  were warm (the model weights are not counted against a render), every render in progress is failed, since which
  one grew cannot be told apart, and asked to stop; then the worker stops (`on_memory_limit`) and exits with
  EXIT_RESTART, since memory a process once took is not reliably given back: its service manager starts a fresh
  one.
- A render that does not stop within `grace_s` of being failed is stuck where it cannot be interrupted (a decoder
  in C code): the process exits with EXIT_STUCK, and its service manager starts a fresh one. Any other render it
  had goes back to the queue through the cluster's recovery of silent workers.

Address-space limits (RLIMIT_AS, as the embedded workers use) are not an option here: CUDA reserves far more
virtual memory than it uses."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from r2v.clock import Clock
from r2v.errors import INTERNAL_ERROR
from r2v.tasks.model import Task
from r2v.tasks.store import TaskStore

log = logging.getLogger(__name__)

EXIT_STUCK = 70  # EX_SOFTWARE: a render ignored its limit; a service manager restarts the worker
EXIT_RESTART = 75  # EX_TEMPFAIL: the renders went past the memory limit; a fresh worker process should take over


@dataclass(frozen=True)
class RenderLimits:
    task_timeout_s: float = 1800.0  # R2V_TASK_TIMEOUT_S
    memory_mb: int = 16384  # R2V_WORKER_MEMORY_MB: resident memory the renders may add to the warm process
    grace_s: float = 30.0  # how long a failed render has to stop by itself before the process exits


def resident_mb() -> float:
    """This process's resident set size, in MiB (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


@dataclass
class _Render:
    task: Task
    started: float  # monotonic seconds
    failed_at: float | None = None  # when the watchdog failed it (it should stop by itself soon after)


@dataclass
class Watchdog:
    limits: RenderLimits
    store: TaskStore
    clock: Clock
    memory: Callable[[], float] = resident_mb
    exit: Callable[[int], None] = os._exit  # the only way out of a render stuck in C code
    on_memory_limit: Callable[[], None] = lambda: None  # the worker stops taking jobs (and exits EXIT_RESTART)
    interval_s: float = 1.0
    monotonic: Callable[[], float] = time.monotonic
    _renders: dict[str, _Render] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _baseline_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        """Call once the engines are warm: the memory they hold from then on is the baseline."""
        self._baseline_mb = self.memory()
        threading.Thread(target=self._watch, name="r2v-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def begin(self, task: Task) -> Callable[[], bool]:
        """Track a render; returns whether it went past a limit (then it must stop: its task has been failed)."""
        render = _Render(task, self.monotonic())
        with self._lock:
            self._renders[task.task_id] = render
        return lambda: render.failed_at is not None

    def end(self, task: Task) -> None:
        with self._lock:
            self._renders.pop(task.task_id, None)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - a database blink must not end the watch; the next pass retries
                log.exception("watchdog pass failed")

    def check(self) -> None:
        """One pass: fail the renders past a limit, and exit the process if a failed one has not stopped."""
        now = self.monotonic()
        with self._lock:
            renders = list(self._renders.values())
        grown_mb = self.memory() - self._baseline_mb
        over_memory = bool(renders) and grown_mb > self.limits.memory_mb
        if over_memory:
            log.warning("the renders grew this worker by %.0f MB, past R2V_WORKER_MEMORY_MB (%d): failing them and "
                        "stopping the worker", grown_mb, self.limits.memory_mb)  # fmt: skip
        for render in renders:
            if render.failed_at is not None:
                if now - render.failed_at > self.limits.grace_s:
                    log.critical("task %s did not stop %g s after it was failed; exiting so that a fresh worker "
                                 "takes over", render.task.task_id, self.limits.grace_s)  # fmt: skip
                    self.exit(EXIT_STUCK)
                continue
            if now - render.started > self.limits.task_timeout_s:
                self._fail(render, now, f"rendering took longer than the {self.limits.task_timeout_s:g} s limit "
                                        "(R2V_TASK_TIMEOUT_S)")  # fmt: skip
            elif over_memory:
                self._fail(render, now, f"rendering used more than the {self.limits.memory_mb} MB memory limit "
                                        "(R2V_WORKER_MEMORY_MB)")  # fmt: skip
        if over_memory:  # after the failures: a stopping worker hands back the renders it still owns
            self.on_memory_limit()

    def _fail(self, render: _Render, now: float, message: str) -> None:
        task = render.task
        log.warning("task %s: %s", task.task_id, message)
        self.store.fail(task.task_id, task.attempt, self.clock.now_ms(), INTERNAL_ERROR, message)
        render.failed_at = now

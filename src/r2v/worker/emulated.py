"""The emulator's workers (`r2v serve --emulate`): they play out each task's scenario inside the server's process,
with no worker process to start and no model to load, so that a task is done about as soon as its video is
encoded.

A task waits its `pending=` seconds, is claimed through the store (the real claim, with the per-key cap on tasks
running at once), stays RUNNING its `running=` seconds with its progress rising, and ends as its scenario says:
FAILED with the `fail=` code, or SUCCEEDED with a video from the emulated engine (spec-exact, the same bytes for
the same request and seed) and the real bill. Cancel, list, query and retention are the store's own.

The emulator never touches the network: an http(s) input is not downloaded but taken to be a picture, or a 5 s
video when its field or its name says video (billed at its cap). Inputs the server already holds (data: URIs,
oss:// uploads) are read and checked for real, as a render would."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from r2v.clock import Clock
from r2v.director import Cast, direct
from r2v.engines.base import Engine, RenderCancelled, RenderJob
from r2v.errors import INTERNAL_ERROR, MSG_INTERNAL, TaskFailure
from r2v.media import probe as probing
from r2v.media.fetch import INPUT_SCHEME, MediaResolver
from r2v.media.info import MediaInfo
from r2v.media.sandbox import SandboxLimits, probe_isolated
from r2v.protocol import catalog
from r2v.protocol import scenario as scenarios
from r2v.protocol.job import FIRST_FRAME, REFERENCE, REFERENCE_IMAGE, REFERENCE_VIDEO, JobSpec, MediaRef
from r2v.protocol.scenario import Scenario
from r2v.storage.blobs import BlobStore, delete_task_files
from r2v.storage.uploads import UploadRegistry
from r2v.tasks.model import Task
from r2v.tasks.store import OwnerBusy, TaskStore
from r2v.worker.pipeline import Input, assets_of, check_kinds, extends_prompt, keep_result, output_size, usage_of

log = logging.getLogger(__name__)

WORKER_NAME = "emulator"
THREADS = 4  # tasks played out at once (more wait in the schedule, PENDING, as on a busy cloud)
TICK_S = 0.1  # how often a held task looks at the clock and its stop flag
PROGRESS_EVERY_S = 0.25
BUSY_RETRY_S = 0.2  # a task whose key is at its running cap is tried again this much later
LOCAL_SCHEMES = (INPUT_SCHEME, "oss://")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v")
ASSUMED_VIDEO_S = 5.0  # a remote reference video is taken to last this long: billed at its cap, whatever N is


def scenario_of(task: Task) -> Scenario:
    """The scenario a task was created with (none: it simply succeeds)."""
    try:
        extras = json.loads(task.spec_json).get("extras") or {}
        return scenarios.parse(extras.get(scenarios.EXTRAS_KEY) or "", "stored scenario")
    except Exception:  # noqa: BLE001 - a stored scenario was checked on create; a bad one must not stop the task
        log.warning("task %s: its stored scenario cannot be read; it plays out with none", task.task_id)
        return Scenario()


class EmulatedWorkers:
    def __init__(self, store: TaskStore, blobs: BlobStore, uploads: UploadRegistry, clock: Clock, engine: Engine,
                 scratch: Path, expire: Callable[[str], bool], per_owner_running: int | None = 5,
                 probe_limits: SandboxLimits = SandboxLimits(), region: str = catalog.DEFAULT_REGION,
                 threads: int = THREADS):  # fmt: skip
        """`expire(task_id)`: makes a task 24 h old (the emulator service's, for `expire` on a create)."""
        self.store, self.blobs, self.uploads, self.clock, self.engine = store, blobs, uploads, clock, engine
        self.scratch, self.expire, self.per_owner_running = scratch, expire, per_owner_running
        self.probe_limits, self.region = probe_limits, region
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="r2v-emulated")
        self._schedule: list[tuple[float, int, str]] = []  # (due, order, task id): a heap
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stops: dict[str, threading.Event] = {}  # the tasks being played out, with their stop flags
        self._closed = False
        self._scheduler = threading.Thread(target=self._run_schedule, name="r2v-emulated-schedule", daemon=True)

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        """Take up what the last run left (RUNNING tasks go back to PENDING; PENDING ones play out now, with their
        stored scenarios), then follow new tasks."""
        self.store.requeue_running(self.clock.now_ms())
        while (task := self.store.claim_next(WORKER_NAME, self.clock.now_ms(), None)) is not None:
            self._track(task.task_id)
            self._pool.submit(self._play, task)
        self._scheduler.start()

    def alive(self) -> int:
        return 0 if self._closed or not self._scheduler.is_alive() else 1

    def stop(self) -> int:
        """Stop playing: tasks in play go back to PENDING (the next start plays them again); returns how many."""
        with self._wake:
            self._closed = True
            self._schedule.clear()
            self._wake.notify_all()
        self._stop_all()
        self._pool.shutdown(wait=True)
        return self.store.release_running(WORKER_NAME)

    def reset(self) -> int:
        """Stop every task in play or waiting, then delete every task with its files. Returns how many went."""
        with self._wake:
            self._schedule.clear()
        self._stop_all()
        deleted = self.store.delete_finished_before(self.clock.now_ms() + 365 * 24 * 3600 * 1000)
        for task_id in deleted:
            delete_task_files(self.blobs, task_id)
        return len(deleted)

    def _stop_all(self) -> None:
        """Ask every task in play to stop and wait until each has (each ends CANCELED or back in PENDING)."""
        with self._wake:
            stops = list(self._stops.values())
        for flag in stops:
            flag.set()
        while True:
            with self._wake:
                if not self._stops:
                    return
                self._wake.wait(TICK_S)

    # -- scheduling -------------------------------------------------------------------------------------

    def submit(self, task: Task) -> None:
        """A task just accepted (TaskService.on_accepted): an `expire` ages it at once, before the create's answer
        is sent; it is claimed once its PENDING time is over."""
        scenario = scenario_of(task)
        if scenario.expire:
            self.expire(task.task_id)
        self._enqueue(task.task_id, time.monotonic() + (scenario.pending_s or 0.0))

    def _enqueue(self, task_id: str, due: float) -> None:
        with self._wake:
            if not self._closed:
                heapq.heappush(self._schedule, (due, next(self._order), task_id))
                self._wake.notify_all()

    def _run_schedule(self) -> None:
        while True:
            with self._wake:
                if self._closed:
                    return
                if not self._schedule:
                    self._wake.wait()
                    continue
                due, _, task_id = self._schedule[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._schedule)
            self._pool.submit(self._claim_and_play, task_id)

    def _claim_and_play(self, task_id: str) -> None:
        # Tracked before the claim, so that a reset or a stop meanwhile sees it, and waits for it to stop.
        self._track(task_id)
        try:
            task = self.store.claim(task_id, WORKER_NAME, self.clock.now_ms(), self.per_owner_running)
        except OwnerBusy:
            task = None
            self._enqueue(task_id, time.monotonic() + BUSY_RETRY_S)
        except Exception:  # noqa: BLE001 - a store blink: the next try may work
            task = None
            log.exception("task %s could not be claimed; trying again", task_id)
            self._enqueue(task_id, time.monotonic() + 1.0)
        if task is not None:  # None: canceled, deleted or reset while it waited (or tried again later)
            self._play(task)
        else:
            self._untrack(task_id)

    def _track(self, task_id: str) -> threading.Event:
        with self._wake:
            return self._stops.setdefault(task_id, threading.Event())

    def _untrack(self, task_id: str) -> None:
        with self._wake:
            self._stops.pop(task_id, None)
            self._wake.notify_all()

    # -- one task ---------------------------------------------------------------------------------------

    def _play(self, task: Task) -> None:
        stop = self._track(task.task_id)
        try:
            self._play_out(task, stop)
        except Exception:  # noqa: BLE001 - a bug must end the task, not the emulator
            log.exception("task %s: internal error", task.task_id)
            self.store.fail(task.task_id, task.attempt, self.clock.now_ms(), INTERNAL_ERROR, MSG_INTERNAL)
        finally:
            self._untrack(task.task_id)

    def _play_out(self, task: Task, stop: threading.Event) -> None:
        scenario, started = scenario_of(task), time.monotonic()
        hold_s = scenario.running_s or 0.0

        def stopped() -> bool:
            return stop.is_set() or self.store.cancel_requested(task.task_id)

        def progress(fraction: float) -> None:
            if hold_s == 0:  # else the progress follows the scripted time (below)
                self.store.set_progress(task.task_id, task.attempt, max(0, min(99, int(fraction * 100))))

        try:
            if scenario.fail_code is not None:
                self._hold(task, started, hold_s, stopped)
                code, message = scenarios.failure(scenario)
                self.store.fail(task.task_id, task.attempt, self.clock.now_ms(), code, message)
                return
            result = self._render(task, stopped, progress)
            self._hold(task, started, hold_s, stopped)
        except RenderCancelled:
            self._end_stopped(task, stop)
            return
        except TaskFailure as failure:  # an input the server holds is not what the request says
            self.store.fail(task.task_id, task.attempt, self.clock.now_ms(), failure.code, failure.message)
            return
        name, usage, actual = result
        if not self.store.succeed(task.task_id, task.attempt, self.clock.now_ms(), name, json.dumps(usage), actual):
            self.blobs.delete(name)  # canceled or deleted meanwhile

    def _end_stopped(self, task: Task, stop: threading.Event) -> None:
        """A task stopped in play: by a user's cancel (R2V_CANCEL_RUNNING) it is CANCELED; by a reset or a shutdown
        it goes back to PENDING (a reset then deletes it; the next start plays it again)."""
        if stop.is_set():
            self.store.release_task(task.task_id, task.attempt)
        else:
            self.store.cancel_running(task.task_id, task.attempt, self.clock.now_ms())

    def _hold(self, task: Task, started: float, hold_s: float, stopped: Callable[[], bool]) -> None:
        """Stay RUNNING until `hold_s` after the start, the progress rising with the time."""
        last = -1.0
        while (elapsed := time.monotonic() - started) < hold_s:
            if stopped():
                raise RenderCancelled(task.task_id)
            if elapsed - last >= PROGRESS_EVERY_S:
                self.store.set_progress(task.task_id, task.attempt, min(99, int(99 * elapsed / hold_s)))
                last = elapsed
            time.sleep(min(TICK_S, hold_s - elapsed))

    def _render(self, task: Task, stopped: Callable[[], bool], progress) -> tuple[str, dict, str | None]:
        """(result blob, usage, actual prompt) of a task that succeeds: its inputs checked, its plan made, its
        video encoded and stored."""
        spec = JobSpec.from_dict(json.loads(task.spec_json))
        workdir = self.scratch / f"emulated-{task.task_id}"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        try:
            inputs = self._inputs(spec, task.owner, workdir)
            check_kinds(spec, inputs, self.region)
            width, height, ratio = output_size(spec, inputs)
            assets = assets_of(spec, inputs)
            has_first = spec.first_frame is not None
            plan = direct(spec.prompt, Cast.of([(a.label, a.kind) for a in assets]), spec.duration,
                          shot_type=spec.shot_type if spec.generation == catalog.GEN_26 else None,
                          first_frame=has_first)  # fmt: skip
            self.store.set_plan(task.task_id, task.attempt, json.dumps(plan.to_dict()))
            job = RenderJob(width=width, height=height, duration=spec.duration, seed=spec.seed,
                            watermark=spec.watermark, audio=spec.audio, assets=[], prompt=spec.prompt,
                            negative_prompt=spec.negative_prompt, storyboard=plan, cancelled=stopped)  # fmt: skip
            out = workdir / "out.mp4"
            rendered = self.engine.render(job, out, progress)
            if rendered.frames != job.frames:
                raise RuntimeError(f"the emulated engine wrote {rendered.frames} frames, expected {job.frames}")
            name = keep_result(self.blobs, task.task_id, task.attempt, out, workdir, stopped)
            actual = plan.script() if extends_prompt(spec) else None
            return name, usage_of(spec, width, height, ratio, assets), actual
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _inputs(self, spec: JobSpec, owner: str, workdir: Path) -> list[Input]:
        """Every input of the job: read and probed when the server holds it, assumed when it is remote."""
        resolver = MediaResolver(blobs=self.blobs, uploads=self.uploads, owner=owner, now_ms=self.clock.now_ms())
        inputs = []
        for n, ref in enumerate(spec.media):
            if ref.url.startswith(LOCAL_SCHEMES):
                path = resolver.resolve(ref.url, ref.field, workdir / f"input-{n}", probing.VIDEO_MAX_BYTES)
                info = probe_isolated(path, ref.field, self.probe_limits)
            else:
                path, info = workdir / f"remote-{n}", _assumed(ref)
            item = Input(ref=ref, path=path, info=info)
            if ref.voice_url and ref.voice_url.startswith(LOCAL_SCHEMES):
                voice_path = workdir / f"voice-{n}"
                voice = resolver.resolve(ref.voice_url, ref.voice_field, voice_path, probing.AUDIO_MAX_BYTES)
                probing.check(probe_isolated(voice, ref.voice_field, self.probe_limits), ref.voice_field, "audio")
                item.voice = voice
            inputs.append(item)
        return inputs


def _assumed(ref: MediaRef) -> MediaInfo:
    """What the emulator takes a remote file it does not download to be: a 1280x720 picture, or a 1280x720 video of
    ASSUMED_VIDEO_S when its field (reference_video) or, for wan2.6's either-kind field, its name says video."""
    suffix = urlsplit(ref.url).path.lower()
    video = ref.kind == REFERENCE_VIDEO or (ref.kind == REFERENCE and suffix.endswith(VIDEO_SUFFIXES))
    if ref.kind in (FIRST_FRAME, REFERENCE_IMAGE) or not video:
        return MediaInfo(format="png", size_bytes=0, width=1280, height=720, has_video=True)
    return MediaInfo(format="mp4", size_bytes=0, width=1280, height=720, duration_s=ASSUMED_VIDEO_S, has_video=True)

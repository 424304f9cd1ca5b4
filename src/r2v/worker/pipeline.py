"""One job, start to finish: resolve and check every input, pick the output size, render, store, bill.

Steps that need the media itself fail the task with a TaskFailure whose message names the request field."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from r2v.director import Cast, Storyboard, direct
from r2v.director.cast import Member
from r2v.director.grid import find_panels
from r2v.director.rewrite import PromptRewriter
from r2v.engines.base import Asset, Engine, Progress, RenderJob
from r2v.errors import (
    DATA_INSPECTION_FAILED,
    INVALID_PARAMETER,
    UNSUPPORTED_FILE_FORMAT,
    BackendUnavailable,
    TaskFailure,
)
from r2v.media import probe as probing
from r2v.media.fetch import INPUT_SCHEME, MediaResolver
from r2v.media.info import MediaInfo
from r2v.media.people import shows_a_person
from r2v.media.sandbox import SandboxLimits, probe_isolated
from r2v.moderation import MSG_OUTPUT_REFUSED, Moderator
from r2v.protocol import billing, catalog
from r2v.protocol.job import FIRST_FRAME, REFERENCE, REFERENCE_IMAGE, REFERENCE_VIDEO, JobSpec, MediaRef
from r2v.render.decode import read_image
from r2v.render.previews import make_previews
from r2v.storage.blobs import BlobStore, preview_blob, result_blob

log = logging.getLogger(__name__)

MAX_IMAGES_26, MAX_VIDEOS_26 = 5, 3


@dataclass
class Outcome:
    result_name: str
    usage: dict
    actual_prompt: str | None
    plan: Storyboard


@dataclass(frozen=True)
class JobRules:
    """What a job is checked against besides the request: the server's region, how untrusted files are probed,
    and the moderation hook (None: off)."""

    region: str = catalog.DEFAULT_REGION
    probe_limits: SandboxLimits = SandboxLimits()
    moderator: Moderator | None = None
    rewriter: PromptRewriter | None = None  # prompt_extend by a language model (None: the plan's own script)


@dataclass
class Input:
    ref: MediaRef
    path: Path
    info: MediaInfo
    voice: Path | None = None


def run_job(
    task_id: str,
    spec: JobSpec,
    resolver: MediaResolver,
    blobs: BlobStore,
    scratch: Path,
    engine: Engine,
    progress: Progress,
    rules: JobRules = JobRules(),
    on_plan: Callable[[Storyboard], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    attempt: int = 1,
) -> Outcome:
    workdir = scratch / f"job-{task_id}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        inputs = _resolve_all(spec, resolver, workdir, rules.probe_limits)
        check_kinds(spec, inputs, rules.region)
        width, height, ratio = output_size(spec, inputs)
        assets = assets_of(spec, inputs)
        first = next((i.path for i in inputs if i.ref.kind == FIRST_FRAME), None)
        panels = _storyboard_panels(assets)
        plan = direct(
            spec.prompt,
            cast_of(assets),
            spec.duration,
            shot_type=spec.shot_type if spec.generation == catalog.GEN_26 else None,
            first_frame=first is not None,
            panels=len(panels),
        )
        plan.panels = [list(box) for box in panels]
        if on_plan is not None:
            on_plan(plan)
        job = RenderJob(
            width=width,
            height=height,
            duration=spec.duration,
            seed=spec.seed,
            watermark=spec.watermark,
            audio=spec.audio,
            assets=assets,
            first_frame=first,
            prompt=spec.prompt,
            negative_prompt=spec.negative_prompt,
            storyboard=plan,
            cancelled=cancelled,
        )
        out = workdir / "out.mp4"
        result = engine.render(job, out, progress)
        if result.frames != job.frames:
            raise RuntimeError(f"engine {engine.name} wrote {result.frames} frames, expected {job.frames}")
        # prompt_extend (wan2.7): the prompt the video was made from is the director's explicit shot script.
        actual = None
        if extends_prompt(spec):
            actual = rules.rewriter.rewrite(spec.prompt, plan) if rules.rewriter else plan.script()
        if rules.moderator is not None and rules.moderator.refuses_video(out, actual or spec.prompt):
            raise TaskFailure(DATA_INSPECTION_FAILED, MSG_OUTPUT_REFUSED)
        name = keep_result(blobs, task_id, attempt, out, workdir, cancelled)
        usage = usage_of(spec, width, height, ratio, assets)
        return Outcome(result_name=name, usage=usage, actual_prompt=actual, plan=plan)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def extends_prompt(spec: JobSpec) -> bool:
    """Whether the task answers an actual_prompt: wan2.7 with prompt_extend (wan2.6 never does)."""
    return spec.generation == catalog.GEN_27 and spec.prompt_extend


def keep_result(blobs: BlobStore, task_id: str, attempt: int, video: Path, workdir: Path,
                cancelled: Callable[[], bool]) -> str:  # fmt: skip
    """Store a finished video of this attempt with its previews; returns the video's blob name. The task is
    SUCCEEDED only after this has returned."""
    name = result_blob(task_id, attempt)
    previews = _make_previews(name, video, workdir)  # before the video is stored (a store may take the file)
    _store_result(blobs, name, video, cancelled)
    _store_previews(blobs, name, previews)
    return name


def usage_of(spec: JobSpec, width: int, height: int, ratio: str | None, assets: list[Asset]) -> dict:
    """The bill of a SUCCEEDED task (protocol/billing.py)."""
    videos = [a.info.duration_s for a in assets if a.kind == "video"]
    return billing.usage(spec.generation, spec.duration, width, height, spec.resolution, ratio, videos, len(assets))


STORE_PATIENCE_S = 300.0  # how long a finished render waits for its object store to come back


def _store_result(blobs: BlobStore, name: str, path: Path, cancelled: Callable[[], bool],
                  patience_s: float = STORE_PATIENCE_S) -> None:  # fmt: skip
    """Put the finished video, retrying for a while when the store is away: the render (GPU minutes) is worth
    waiting for. Past `patience_s`, or when the job is asked to stop, the BackendUnavailable goes up (the task is
    handed back to the queue, not failed)."""
    deadline = time.monotonic() + patience_s
    wait_s = 1.0
    while True:
        try:
            blobs.put_file(name, path)
            return
        except BackendUnavailable as exc:
            if time.monotonic() + wait_s > deadline or cancelled():
                raise
            log.warning("storing %s failed (%s); trying again in %g s", name, exc, wait_s)
            time.sleep(wait_s)
            wait_s = min(wait_s * 2, 30.0)


def _make_previews(name: str, video: Path, workdir: Path) -> dict[str, Path]:
    """The thumbnail and spritesheet of the OpenAI-style API, made once, with the video. Best effort, as storing
    them is: a preview that cannot be made or stored is logged, never a failed or handed-back render (the video
    itself is good; its previews then answer 404)."""
    try:
        return make_previews(video, workdir)
    except Exception:  # noqa: BLE001 - the video itself is good
        log.exception("previews of %s could not be made", name)
        return {}


def _store_previews(blobs: BlobStore, name: str, previews: dict[str, Path]) -> None:
    """Stored after the video and before the task is recorded SUCCEEDED."""
    try:
        for variant, path in previews.items():
            blobs.put_file(preview_blob(name, variant), path)
    except Exception:  # noqa: BLE001 - the video itself is good and stored
        log.exception("previews of %s could not be stored", name)


def _resolve_all(spec: JobSpec, resolver: MediaResolver, workdir: Path, limits: SandboxLimits) -> list[Input]:
    """Fetch every input concurrently, then probe it in the sandbox; the first failure in request order is
    reported."""
    jobs: list[tuple[MediaRef, str, str, int]] = []  # (ref, url, field, byte limit); a voice follows its ref
    for ref in spec.media:
        limit = probing.IMAGE_MAX_BYTES if ref.kind in (FIRST_FRAME, REFERENCE_IMAGE) else probing.VIDEO_MAX_BYTES
        jobs.append((ref, ref.url, ref.field, limit))
        if ref.voice_url:
            jobs.append((ref, ref.voice_url, ref.voice_field, probing.AUDIO_MAX_BYTES))

    def fetch(index: int) -> tuple[Path, MediaInfo]:
        _, url, field, limit = jobs[index]
        path = resolver.resolve(url, field, workdir / f"input-{index}", limit)
        info = probe_isolated(path, field, limits)
        _check_declared_type(url, info, field)
        return path, info

    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        futures = [pool.submit(fetch, i) for i in range(len(jobs))]
        results = [f.result() for f in futures]  # re-raises the first failure in request order

    inputs: list[Input] = []
    for (ref, _, field, _), (path, info) in zip(jobs, results, strict=True):
        if field == ref.voice_field:
            probing.check(info, field, "audio")
            inputs[-1].voice = path
        else:
            inputs.append(Input(ref=ref, path=path, info=info))
    return inputs


def _check_declared_type(url: str, info: MediaInfo, field: str) -> None:
    """A data-URI image whose declared type is not what its bytes are."""
    if url.startswith(INPUT_SCHEME):
        declared = url.rsplit(".", 1)[-1]
        declared = "jpeg" if declared == "jpg" else declared
        if declared != info.format:
            raise TaskFailure(
                INVALID_PARAMETER, f"{field}: the data URI says image/{declared} but the data is {info.format}"
            )


def check_kinds(spec: JobSpec, inputs: list[Input], region: str) -> None:
    for item in inputs:
        kind = item.ref.kind
        if kind in (FIRST_FRAME, REFERENCE_IMAGE):
            probing.check(item.info, item.ref.field, "image")
        elif kind == REFERENCE_VIDEO:
            probing.check(item.info, item.ref.field, "video")
        elif item.info.kind in ("image", "video"):  # wan2.6: image or video, told apart by content
            probing.check(item.info, item.ref.field, item.info.kind)
            if item.info.kind == "image" and region == "us-east-1":
                raise TaskFailure(INVALID_PARAMETER, f"{item.ref.field}: {spec.model} in {region} takes videos only")
        else:
            raise TaskFailure(
                UNSUPPORTED_FILE_FORMAT, f"{item.ref.field}: expected an image or a video, got {item.info.format}"
            )
    if spec.generation == catalog.GEN_26:
        images = sum(i.info.kind == "image" for i in inputs)
        videos = sum(i.info.kind == "video" for i in inputs)
        if images > MAX_IMAGES_26:
            raise TaskFailure(INVALID_PARAMETER, f"input.reference_urls: at most {MAX_IMAGES_26} images, got {images}")
        if videos > MAX_VIDEOS_26:
            raise TaskFailure(INVALID_PARAMETER, f"input.reference_urls: at most {MAX_VIDEOS_26} videos, got {videos}")


def output_size(spec: JobSpec, inputs: list[Input]) -> tuple[int, int, str | None]:
    if spec.size_from_first_frame:
        frame = next(i for i in inputs if i.ref.kind == FIRST_FRAME)
        ratio = catalog.closest_ratio(frame.info.width, frame.info.height)
        width, height = catalog.SIZES_27[spec.resolution][ratio]
        return width, height, ratio
    return spec.width, spec.height, spec.ratio


def assets_of(spec: JobSpec, inputs: list[Input]) -> list[Asset]:
    assets: list[Asset] = []
    counts = {"image": 0, "video": 0}
    for n, item in enumerate((i for i in inputs if i.ref.kind != FIRST_FRAME), start=1):
        kind = item.info.kind
        counts[kind] += 1
        if item.ref.kind == REFERENCE:
            label = f"character{n}"
        else:
            label = f"图{counts[kind]}" if kind == "image" else f"视频{counts[kind]}"
        # reference_voice overrides a reference video's own sound; the video's sound is used otherwise.
        voice = item.voice or (item.path if kind == "video" and item.info.has_audio else None)
        assets.append(Asset(kind=kind, path=item.path, info=item.info, label=label, voice=voice))
    return assets


def cast_of(assets: list[Asset]) -> Cast:
    """The references as the director sees them, with who is a person: a video, anything with a voice, or a
    picture with a face or a human figure (media/people.py); a picture without is an object unless the prompt
    says otherwise (director/roles.py). `r2v generate` and the plan endpoint get their plan from here too."""
    members = []
    for asset in assets:
        if asset.kind == "video":
            person, evidence = True, "video"
        elif asset.voice is not None:
            person, evidence = True, "voice"
        else:
            person, evidence = shows_a_person(read_image(asset.path)), "picture"
        members.append(Member(asset.label, asset.kind, person=person, evidence=evidence))
    return Cast(members)


def _storyboard_panels(assets: list[Asset]) -> list[tuple[int, int, int, int]]:
    """A request whose only reference is one image may be a storyboard grid (the guide's 多宫格 example)."""
    if len(assets) != 1 or assets[0].kind != "image":
        return []
    return find_panels(read_image(assets[0].path))

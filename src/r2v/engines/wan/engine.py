"""WanEngine: the Storyboard rendered by an open Wan VACE model (diffusers) on the user's GPU.

No open Wan model makes 30 fps, sound or several shots by itself, so each planned shot is one generation: the
shot's text as the prompt, its subjects as reference images (a reference video lends a frame), the first frame
(or the shot's storyboard panel) held through VACE's video + mask, and a seed derived from the job's seed and the
shot. The clip, made at the model's native rate and size, is converted to exactly the shot's frames at 30 fps
along optical flow (render/retime.py), scaled to the spec's size, and written with the same voices, mix and
watermark as the animatic engine. The pipeline is loaded once per worker process and kept."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from r2v.director import Shot, Storyboard
from r2v.engines.base import (
    OUTPUT_FPS,
    Engine,
    Progress,
    RenderCancelled,
    RenderJob,
    RenderResult,
    panel_picture,
    shot_frames,
)
from r2v.engines.sound import job_soundtrack
from r2v.engines.wan.batched_guidance import BatchedGuidance
from r2v.engines.wan.options import WanOptions
from r2v.render import watermark
from r2v.render.decode import read_image, video_frames
from r2v.render.encoder import Mp4Writer
from r2v.render.geometry import cover
from r2v.render.retime import retime
from r2v.wan_folder import check_folder, load_pipeline

NATIVE_AREAS = {"480P": 832 * 480, "720P": 1280 * 720}
SIZE_STEP = 16  # VAE stride 8 x patch 2: sizes the transformer accepts
DEFAULT_NEGATIVE = ("blurry, low quality, distorted, deformed, static, still picture, watermark, subtitles, "
                    "extra limbs, bad hands")  # fmt: skip
REFERENCE_GREY = 127  # VACE: a grey frame under a white mask is "generate here"


def native_size(width: int, height: int, resolution: str) -> tuple[int, int]:
    """The model's frame size for an output of width x height: the same shape, about the native area."""
    if resolution in NATIVE_AREAS:
        area = NATIVE_AREAS[resolution]
    else:
        w, _, h = resolution.lower().partition("x")
        area = int(w) * int(h)
    aspect = width / height
    h = math.sqrt(area / aspect)
    return (max(SIZE_STEP, round(h * aspect / SIZE_STEP) * SIZE_STEP), max(SIZE_STEP, round(h / SIZE_STEP) * SIZE_STEP))


def native_frames(seconds: float, fps: int) -> int:
    """Wan makes 4k+1 frames: the fewest that cover `seconds` at the native rate."""
    return 4 * max(1, math.ceil(seconds * fps / 4)) + 1


def shot_seed(seed: int, shot: int) -> int:
    return (seed * 1_000_003 + shot * 7_919) % 2**31


class WanEngine(Engine):
    name = "wan"

    def __init__(self, options: WanOptions):
        self.options = options
        self.folder = check_folder(options.model_dir)  # a wrong folder fails here, before any task
        self.resolution = options.resolution or self.folder.resolution or "480P"
        self.pipeline = None

    def warm_up(self) -> None:
        self._load()

    def _load(self):
        if self.pipeline is not None:
            return self.pipeline
        import torch

        device = self.options.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = "bfloat16" if device.startswith("cuda") else "float32"  # bf16 matmuls crawl on most CPUs
        pipeline = load_pipeline(self.folder, device, dtype)
        if self.options.shift is not None:
            pipeline.scheduler = type(pipeline.scheduler).from_config(pipeline.scheduler.config,
                                                                     flow_shift=self.options.shift)  # fmt: skip
        if device.startswith("cuda"):
            pipeline.vae.enable_tiling()  # decoding 81 frames at 720P in one piece needs tens of GB
        if self.options.offload:
            pipeline.enable_model_cpu_offload(device=device)  # small GPUs: one part on the GPU at a time
        else:
            pipeline.to(device)
            if self.options.batched_guidance:
                pipeline.transformer = BatchedGuidance(pipeline.transformer)
                if getattr(pipeline, "transformer_2", None) is not None:
                    pipeline.transformer_2 = BatchedGuidance(pipeline.transformer_2)
        for transformer in _transformers(pipeline):  # the models themselves, under any batching wrapper
            if self.options.attention:
                transformer.set_attention_backend(self.options.attention)
            if self.options.cache == "first-block":
                from diffusers.hooks import FirstBlockCacheConfig

                transformer.enable_cache(FirstBlockCacheConfig(threshold=self.options.cache_threshold))
            elif self.options.cache:
                raise ValueError(f"R2V_WAN_CACHE: unknown step cache {self.options.cache!r}; known: first-block")
            if self.options.compile:
                transformer.compile(mode="max-autotune-no-cudagraphs")
        pipeline.set_progress_bar_config(disable=True)
        self.pipeline = pipeline
        return pipeline

    def _device(self):
        return self.pipeline._execution_device  # where the text encoder runs (offload moves it there)

    def render(self, job: RenderJob, out_path: Path, progress: Progress) -> RenderResult:
        board = job.plan()
        pipeline = self._load()
        sound = job_soundtrack(job, board) if job.audio else None
        pictures = functools.cache(_picture)  # each picture decoded once per render, whatever the shots share
        size = native_size(job.width, job.height, self.resolution)
        writer = Mp4Writer(out_path, job.width, job.height, sound)
        written = 0
        try:
            ranges = shot_frames(board, job.frames)
            for index, (shot, (first, last)) in enumerate(zip(board.shots, ranges, strict=True)):

                def on_step(step: int, steps: int, index: int = index) -> None:
                    progress(0.05 + 0.9 * (index + (step + 1) / steps) / len(board.shots))

                clip = self._generate(pipeline, job, board, shot, size, (last - first) / OUTPUT_FPS, on_step, pictures)
                for frame in retime(clip, self.options.fps, last - first):
                    picture = cover(frame, job.width, job.height)
                    writer.write_frame(watermark.apply(picture) if job.watermark else picture)
                    written += 1
            writer.close()
        except BaseException:
            writer.abort()
            raise
        progress(1.0)
        return RenderResult(frames=written)

    def _generate(self, pipeline, job: RenderJob, board: Storyboard, shot: Shot, size: tuple[int, int],
                  seconds: float, on_step, picture=None) -> np.ndarray:  # fmt: skip
        """One shot's clip: (frames, h, w, 3) uint8 at the native rate and size."""
        import torch
        from PIL import Image

        picture = picture or _picture
        width, height = size
        count = native_frames(seconds, self.options.fps)
        assets = {a.label: a for a in job.assets}
        references = [picture(assets[label].path, assets[label].kind) for label in shot.subjects if label in assets]
        references = [Image.fromarray(p) for p in references[: self.options.max_references]]
        opening = _opening_frame(job, board, shot, picture)
        if opening is not None:
            opening = cover(opening, width, height)
        video = mask = None
        if opening is not None:  # kept exactly where the mask is black; generated where it is white
            grey = Image.new("RGB", (width, height), (REFERENCE_GREY,) * 3)
            video = [Image.fromarray(opening)] + [grey] * (count - 1)
            mask = [Image.new("L", (width, height), 0)] + [Image.new("L", (width, height), 255)] * (count - 1)
        steps = self.options.steps

        def callback(pipe, step: int, timestep, tensors: dict) -> dict:
            on_step(step, steps)
            if job.cancelled():
                pipe._interrupt = True  # diffusers' own stop: the remaining steps are skipped, the model stays
            return tensors

        # The prompts are encoded here, so that a batching transformer knows the two embeddings it will get.
        positive, negative = pipeline.encode_prompt(
            prompt=shot.text or job.prompt, negative_prompt=job.negative_prompt or DEFAULT_NEGATIVE,
            do_classifier_free_guidance=True, device=self._device())  # fmt: skip
        dtype = _transformers(pipeline)[0].dtype
        positive, negative = positive.to(dtype), negative.to(dtype)
        for transformer in (pipeline.transformer, getattr(pipeline, "transformer_2", None)):
            if isinstance(transformer, BatchedGuidance):
                transformer.pair(positive, negative)
        output = pipeline(
            prompt_embeds=positive,
            negative_prompt_embeds=negative,
            video=video,
            mask=mask,
            reference_images=references or None,
            height=height,
            width=width,
            num_frames=count,
            num_inference_steps=steps,
            guidance_scale=self.options.guidance,
            generator=torch.Generator("cpu").manual_seed(shot_seed(job.seed, shot.index)),
            output_type="np",
            callback_on_step_end=callback,
        )
        if job.cancelled():
            raise RenderCancelled(f"shot {shot.index + 1} stopped")
        frames = np.asarray(output.frames[0], dtype=np.float32)
        return (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8)


def _transformers(pipeline) -> list:
    """The denoising transformer(s): Wan2.2 folders have a second expert for the low-noise steps."""
    found = [t for t in (pipeline.transformer, getattr(pipeline, "transformer_2", None)) if t is not None]
    return [t.inner if isinstance(t, BatchedGuidance) else t for t in found]


def _picture(path: Path, kind: str = "image") -> np.ndarray:
    """A picture for VACE: an image, or a reference video's first frame."""
    return read_image(path) if kind == "image" else next(video_frames(path, 1, 1280))


def _opening_frame(job: RenderJob, board: Storyboard, shot: Shot, picture) -> np.ndarray | None:
    """What the shot must open on: the first frame (shot 1), or its storyboard panel."""
    if shot.index == 0 and job.first_frame is not None:
        return picture(job.first_frame)
    return panel_picture(job, board, shot, picture)

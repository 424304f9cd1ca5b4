"""The emulated engine: the renderer behind `r2v serve --emulate`, an offline test double of the video API.

An app's CI needs a video that is exactly what the spec promises (size, 30 fps, duration x 30 frames, an AAC stereo
stream only when audio is on, the "AI生成" mark only when watermark is on), the same bytes for the same request, and
it needs it at once. It does not need a picture of the references: in emulator mode they may be URLs that are never
downloaded, so this engine never reads job.assets, job.first_frame or the storyboard. It is not a preview of what a
real engine would make.

The picture is a flat colour drawn from sha256(prompt, seed) (so a different request is visibly different), a label
saying what it is, a bar that fills as the video plays and a frame counter. Everything static is drawn once; each
frame only repaints the bar and the counter, so the time goes to x264 (at its "ultrafast" preset) and little else.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from r2v.engines.base import Engine, Progress, RenderCancelled, RenderJob, RenderResult
from r2v.render import watermark
from r2v.render.encoder import AUDIO_RATE, Mp4Writer

CHECK_EVERY = 15  # frames between progress reports and cancellation checks (half a second of video)
PIP_HZ = 1000.0
PIP_SECONDS = 0.05
PIP_LEVEL = 10 ** (-30 / 20)  # -30 dBFS: audible in a player, too quiet to startle anyone running CI
PIP_FADE_SECONDS = 0.005  # raised-cosine ends, so the pip does not click
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _digest(job: RenderJob) -> bytes:
    """What the picture is drawn from: hashlib, not hash(), so that it is the same in every process."""
    return hashlib.sha256(f"{job.seed}\n{job.prompt}".encode()).digest()


def _colours(digest: bytes) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    """(background, ink, bar): a mid-range background, so that text of one of two inks reads on it."""
    background = tuple(40 + b * 176 // 255 for b in digest[:3])
    light = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2] > 128
    ink = (20, 20, 20) if light else (235, 235, 235)
    bar = tuple(255 - c for c in background)  # the complement: the bar stands out on any background
    return background, ink, bar


class _Layout:
    """Where things go, in proportion to the frame, so that every size from 480P to portrait 1080P reads alike.
    Everything sits in the top half; the watermark sits bottom-right, so nothing ever covers it."""

    def __init__(self, width: int, height: int):
        short = min(width, height)
        self.margin = max(4, round(short * 0.04))
        self.scale = max(0.3, short / 720)  # FONT_HERSHEY_SIMPLEX at scale 1 is ~22 px tall
        self.thickness = max(1, round(self.scale * 2))
        self.line = round(self.scale * 40)  # baseline-to-baseline
        # Counter band: the rows the frame counter is drawn in, repainted from the base frame on every frame.
        self.counter_baseline = self.margin + 4 * self.line
        self.counter_rows = (self.counter_baseline - self.line + self.line // 4, self.counter_baseline + self.line // 3)
        # The bar: full width inside the margins, just below the counter.
        bar_top = self.counter_rows[1] + self.line // 2
        self.bar_rows = (bar_top, bar_top + max(2, round(short * 0.03)))
        self.bar_cols = (self.margin, width - self.margin)


class EmulatedEngine(Engine):
    name = "emulated"

    def render(self, job: RenderJob, out_path: Path, progress: Progress) -> RenderResult:
        digest = _digest(job)
        background, ink, bar = _colours(digest)
        layout = _Layout(job.width, job.height)
        base = self._base_frame(job, digest, layout, background, ink)
        # One canvas, repainted in place: the writer converts it to I420 inside write_frame, before the next
        # frame touches it, so copying the whole base frame every time (a few MB at 1080P) would buy nothing.
        canvas = base.copy()
        (c0, c1), (b0, b1), (x0, x1) = layout.counter_rows, layout.bar_rows, layout.bar_cols
        total = job.frames
        sound = self._soundtrack(job) if job.audio else None
        # x264 is nearly all of the time: "ultrafast" is the cheapest preset (bigger files, which a test double
        # can afford). The plain writer, not the pipelined one: there is almost nothing to overlap the encoding
        # with, and that one would keep a reference to the canvas this loop repaints.
        writer = Mp4Writer(out_path, job.width, job.height, sound, preset="ultrafast")
        try:
            for i in range(total):
                if i % CHECK_EVERY == 0:
                    if job.cancelled():
                        raise RenderCancelled(f"render of {total} frames canceled at frame {i}")
                    if i:
                        progress(0.95 * i / total)
                canvas[c0:c1] = base[c0:c1]
                cv2.putText(
                    canvas,
                    f"{i + 1:04d}/{total:04d}",
                    (layout.margin, layout.counter_baseline),
                    FONT,
                    layout.scale,
                    ink,
                    layout.thickness,
                    cv2.LINE_AA,
                )
                # The bar only grows, so painting its filled part over last frame's is the whole update.
                canvas[b0:b1, x0 : x0 + (x1 - x0) * (i + 1) // total] = bar
                writer.write_frame(canvas)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        progress(1.0)
        return RenderResult(frames=total)

    @staticmethod
    def _base_frame(job: RenderJob, digest: bytes, layout: _Layout, background, ink) -> np.ndarray:
        """What every frame shares: the colour, the label (ASCII: OpenCV's fonts have no CJK), an empty bar track,
        and the watermark, applied once here since nothing drawn later reaches its corner."""
        frame = np.empty((job.height, job.width, 3), dtype=np.uint8)
        frame[:] = background
        lines = [
            ("r2v emulator", 1.2),
            (f"{job.width}x{job.height}  {job.duration}s  seed {job.seed}", 0.8),
            (f"prompt sha256 {hashlib.sha256(job.prompt.encode()).hexdigest()[:12]}", 0.8),
        ]
        for n, (text, size) in enumerate(lines):
            y = layout.margin + (n + 1) * layout.line
            cv2.putText(frame, text, (layout.margin, y), FONT, layout.scale * size, ink, layout.thickness, cv2.LINE_AA)
        (b0, b1), (x0, x1) = layout.bar_rows, layout.bar_cols
        frame[b0:b1, x0:x1] = [(c + 128) // 2 for c in background]  # the track the bar fills
        if job.watermark:
            watermark.apply(frame)
        return frame

    @staticmethod
    def _soundtrack(job: RenderJob) -> np.ndarray:
        """A short 1 kHz pip at the start of every second, silence otherwise: (duration x 48000, 2) float32.
        Quiet and regular, so a developer hears that the stream is there and can line it up with the counter."""
        n = job.duration * AUDIO_RATE
        sound = np.zeros((n, 2), dtype=np.float32)
        length = round(PIP_SECONDS * AUDIO_RATE)
        t = np.arange(length) / AUDIO_RATE
        pip = PIP_LEVEL * np.sin(2 * np.pi * PIP_HZ * t)
        fade = round(PIP_FADE_SECONDS * AUDIO_RATE)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        pip[:fade] *= ramp
        pip[-fade:] *= ramp[::-1]
        for second in range(job.duration):
            start = second * AUDIO_RATE
            sound[start : start + length] = pip[:, None]
        return sound

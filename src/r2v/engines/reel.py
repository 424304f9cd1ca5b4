"""The reel engine: the first real renderer. It cuts the references together into a timed, voiced video.

Timeline: the first frame (when given) opens the video at frame 0, then every reference asset gets an equal
segment, in the order of the request. Images are framed over a blurred backdrop of themselves with a slow,
eased camera move (its direction drawn from the seed); reference videos play their own frames. Segments join
with a short dissolve. The sound is the plan's dialogue, each line spoken in its speaker's voice (measured from
its reference_voice, or its video's own sound) at the time the director gave it. The same job and seed always
give the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from r2v.director.storyboard import ease
from r2v.engines.base import Asset, Engine, Progress, RenderJob, RenderResult
from r2v.engines.sound import job_soundtrack
from r2v.render import watermark
from r2v.render.decode import read_image, video_frames
from r2v.render.encoder import FPS, Mp4Writer
from r2v.render.geometry import cover

DISSOLVE_FRAMES = 8
FIRST_FRAME_MIN = FPS  # the first frame holds at least one second


class _Framer:
    """Places a picture inside the output frame: whole, centred, over a blurred and dimmed cover of itself."""

    def __init__(self, width: int, height: int, backdrop_from: np.ndarray):
        self.width, self.height = width, height
        small = cover(backdrop_from, max(2, width // 8), max(2, height // 8))
        blurred = cv2.GaussianBlur(small, (0, 0), 3)
        self.backdrop = (cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR) * 0.55).astype(np.uint8)

    def place(self, picture: np.ndarray, fill: float = 0.9) -> np.ndarray:
        h, w = picture.shape[:2]
        scale = min(self.width * fill / w, self.height * fill / h)
        nw, nh = max(2, round(w * scale)), max(2, round(h * scale))
        resized = cv2.resize(picture, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas = self.backdrop.copy()
        y, x = (self.height - nh) // 2, (self.width - nw) // 2
        canvas[y : y + nh, x : x + nw] = resized
        return canvas


def _camera(frame: np.ndarray, t: float, zoom_to: float, pan: tuple[float, float]) -> np.ndarray:
    """A push-in/pan at eased time t (0..1): t = 0 is the frame unchanged."""
    if t <= 0:
        return frame
    h, w = frame.shape[:2]
    e = ease(t)
    zoom = 1 + (zoom_to - 1) * e
    cx = w / 2 + pan[0] * w * e * (zoom - 1) / 2
    cy = h / 2 + pan[1] * h * e * (zoom - 1) / 2
    matrix = np.float32([[zoom, 0, w / 2 - zoom * cx], [0, zoom, h / 2 - zoom * cy]])
    return cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


class ReelEngine(Engine):
    name = "reel"

    def render(self, job: RenderJob, out_path: Path, progress: Progress) -> RenderResult:
        rng = random.Random(job.seed)
        segments = self._plan(job)
        sound = self._soundtrack(job) if job.audio else None
        writer = Mp4Writer(out_path, job.width, job.height, sound)
        try:
            previous: np.ndarray | None = None
            written = 0
            for source, count in segments:
                for i, frame in enumerate(self._segment_frames(job, source, count, rng)):
                    if previous is not None and i < DISSOLVE_FRAMES:
                        w = (i + 1) / (DISSOLVE_FRAMES + 1)
                        frame = cv2.addWeighted(previous, 1 - w, frame, w, 0)
                    if i == count - 1:
                        previous = frame
                    out = watermark.apply(frame.copy()) if job.watermark else frame
                    writer.write_frame(out)
                    written += 1
                    if written % 15 == 0:
                        progress(0.95 * written / job.frames)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        progress(1.0)
        return RenderResult(frames=written, timeline=self._timeline(segments))

    # -- planning ---------------------------------------------------------------------------------------

    @staticmethod
    def _plan(job: RenderJob) -> list[tuple[Path | Asset, int]]:
        """(source, frame count) per segment; the counts add up to exactly job.frames."""
        sources: list[Path | Asset] = ([job.first_frame] if job.first_frame else []) + list(job.assets)
        total = job.frames
        if job.first_frame and len(sources) > 1:
            first = max(FIRST_FRAME_MIN, total // len(sources))
            rest = total - first
            n = len(sources) - 1
            counts = [first] + [rest // n + (1 if i < rest % n else 0) for i in range(n)]
        else:
            n = len(sources)
            counts = [total // n + (1 if i < total % n else 0) for i in range(n)]
        return list(zip(sources, counts, strict=True))

    @staticmethod
    def _timeline(segments) -> list[tuple[float, float, str]]:
        timeline, start = [], 0
        for source, count in segments:
            label = source.label if isinstance(source, Asset) else "first_frame"
            timeline.append((start / FPS, (start + count) / FPS, label))
            start += count
        return timeline

    # -- pictures ---------------------------------------------------------------------------------------

    def _segment_frames(self, job: RenderJob, source, count: int, rng: random.Random) -> Iterator[np.ndarray]:
        width, height = job.width, job.height
        pan = (rng.uniform(-1, 1), rng.uniform(-1, 1))
        zoom_to = rng.uniform(1.06, 1.14)
        if not isinstance(source, Asset):  # the first frame: shown exactly, filling the frame, then a slow push-in
            still = cover(read_image(source), width, height)
            for i in range(count):
                yield _camera(still, i / max(1, count - 1), 1 + (zoom_to - 1) / 2, pan)
            return
        if source.kind == "image":
            picture = read_image(source.path)
            still = _Framer(width, height, picture).place(picture)
            for i in range(count):
                yield _camera(still, i / max(1, count - 1), zoom_to, pan)
            return
        framer = None
        for picture in video_frames(source.path, count, max(width, height)):
            framer = framer or _Framer(width, height, picture)
            yield framer.place(picture, fill=0.94)

    # -- sound ------------------------------------------------------------------------------------------

    @staticmethod
    def _soundtrack(job: RenderJob) -> np.ndarray:
        """The plan's dialogue in each speaker's voice over a quiet room tone, at -16 LUFS (voice/mix.py)."""
        return job_soundtrack(job, job.plan())

"""Mattes for reference videos, whose subjects move: the first frame's cut-out, joined in every frame by what
differs from the clip's still background (the per-pixel median of frames sampled across it). A raised arm or a
step aside stays on screen instead of being cut off at the first frame's outline."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from r2v.engines.animatic.cutout import Cutout, cut_out
from r2v.render.decode import video_frames

MODEL_SIDE = 240  # the background model and the motion masks are worked out at this size
SAMPLES = 24
MOTION_THRESHOLD = 45.0  # summed RGB difference from the background that counts as the subject


class MovingMatte:
    def __init__(self, path: Path, frame_side: int):
        first = next(video_frames(path, 1, frame_side))
        self.size = first.shape[1], first.shape[0]
        scale = MODEL_SIDE / max(self.size)
        self.small = max(8, round(self.size[0] * scale)), max(8, round(self.size[1] * scale))
        # about 2.4 s of the clip, spread out, decoded small: only the background model needs them
        frames = list(video_frames(path, SAMPLES * 3, MODEL_SIDE))[::3]
        cut = cut_out(first)
        self.face = cut.face
        still = np.zeros(first.shape[:2], np.float32)
        x, y = cut.origin
        h, w = cut.alpha.shape
        still[y : y + h, x : x + w] = cut.alpha
        self.still = cv2.resize(still, self.small, interpolation=cv2.INTER_AREA)
        small_frames = [self._shrink(f) for f in frames]
        self.background = np.median(np.stack(small_frames), axis=0).astype(np.float32)
        motion = np.max([self._motion(f) for f in small_frames], axis=0)
        self.box = _box(np.maximum(self.still, motion) > 0.5, self.size, self.small)
        self._alpha: np.ndarray | None = None
        self._calls = 0

    def _shrink(self, frame: np.ndarray) -> np.ndarray:
        return cv2.resize(frame, self.small, interpolation=cv2.INTER_LINEAR)  # enough to see what moves

    def _motion(self, frame: np.ndarray) -> np.ndarray:
        moving = np.abs(self._shrink(frame).astype(np.float32) - self.background).sum(axis=2) > MOTION_THRESHOLD
        moving = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        return cv2.dilate(moving, np.ones((3, 3), np.uint8)).astype(np.float32)

    def cut(self, frame: np.ndarray) -> Cutout:
        """This frame's subject: the still cut-out joined by what moves, soft-edged, in the clip's box."""
        self._calls += 1
        if self._alpha is None or self._calls % 2:  # every other frame: motion is slow next to 30 fps
            self._alpha = cv2.GaussianBlur(np.maximum(self.still, self._motion(frame)), (0, 0), 1.0)
        alpha = self._alpha
        x, y, w, h = self.box
        sx, sy = self.small[0] / self.size[0], self.small[1] / self.size[1]
        # only the box is scaled up: the small mask's matching part, stretched to the box's size
        crop = alpha[int(y * sy) : max(int(y * sy) + 1, int(np.ceil((y + h) * sy))),
                     int(x * sx) : max(int(x * sx) + 1, int(np.ceil((x + w) * sx)))]  # fmt: skip
        alpha = np.zeros(self.size[::-1], np.float32)
        alpha[y : y + h, x : x + w] = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
        face = None
        if self.face:
            fx, fy, fw, fh = self.face
            face = (fx - x, fy - y, fw, fh)
        return Cutout(frame[y : y + h, x : x + w], np.clip(alpha[y : y + h, x : x + w], 0, 1), face)


def _box(mask: np.ndarray, size: tuple[int, int], small: tuple[int, int]) -> tuple[int, int, int, int]:
    """The full-size box around a small mask (with a margin), or the whole frame if it is empty."""
    ys, xs = np.nonzero(mask)
    width, height = size
    if not len(xs):
        return 0, 0, width, height
    sx, sy = width / small[0], height / small[1]
    x0, x1 = max(0, int((xs.min() - 2) * sx)), min(width, int((xs.max() + 3) * sx))
    y0, y1 = max(0, int((ys.min() - 2) * sy)), min(height, int((ys.max() + 3) * sy))
    return x0, y0, x1 - x0, y1 - y0

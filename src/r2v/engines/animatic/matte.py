"""Mattes for reference videos, whose subjects move: the first frame's cut-out, joined in every frame by what
differs from the clip's still background (the per-pixel median of frames sampled across it). A raised arm or a
step aside stays on screen instead of being cut off at the first frame's outline. Whatever in that union has the
colour of the backdrop around the subject (the first frame's, outside its cut-out) is cut away: the backdrop an
arm reveals as it moves, and the rim of background that GrabCut and the motion mask take in, so no patch of the
clip's own background follows the subject around.

No ghost of a limb: the first frame's cut-out vouches only for what stays where it was (where the first frame
agrees with the still background); a waving arm is followed by the motion mask alone, worked out afresh for every
frame (a mask one frame old leaves the backdrop showing where the arm just was). The mask's soft edge lies inside
its outline, so no rim of the clip's backdrop is mixed into it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from r2v.engines.animatic.cutout import Cutout, cut_out
from r2v.engines.animatic.matting import colours
from r2v.render.decode import video_frames

ANALYSIS_SIDE = 480  # the subject is found (face, GrabCut) in the first frame at this size
MODEL_SIDE = 240  # the background model and the motion masks are worked out at this size
SAMPLES = 24
MOTION_THRESHOLD = 45.0  # summed RGB difference from the background that counts as the subject
BACKDROP_COLOURS = 4  # the backdrop around the subject in the first frame, as this many colours
BACKDROP_DISTANCE = 16  # within this of one of them in each of R, G and B counts as backdrop


class MovingMatte:
    def __init__(self, path: Path):
        first = next(video_frames(path, 1, ANALYSIS_SIDE))
        self.size = first.shape[1], first.shape[0]
        scale = MODEL_SIDE / max(self.size)
        self.small = max(8, round(self.size[0] * scale)), max(8, round(self.size[1] * scale))
        # about 2.4 s of the clip, spread out, decoded small: only the background model needs them
        frames = list(video_frames(path, SAMPLES, MODEL_SIDE, step=3))
        cut = cut_out(first)
        self.mouth = cut.mouth.moved(*cut.origin) if cut.mouth else None  # in the first frame's pixels
        still = np.zeros(first.shape[:2], np.float32)
        x, y = cut.origin
        h, w = cut.alpha.shape
        still[y : y + h, x : x + w] = cut.alpha
        self.still = cv2.resize(still, self.small, interpolation=cv2.INTER_AREA)
        small_frames = [self._shrink(f) for f in frames]
        self.background = np.median(np.stack(small_frames), axis=0).round().astype(np.uint8)
        first_small = self._shrink(first)
        backdrop = colours(first_small[self.still < 0.05], BACKDROP_COLOURS)
        self._backdrop_boxes = [(np.clip(c.astype(int) - BACKDROP_DISTANCE, 0, 255).astype(np.uint8),
                                 np.clip(c.astype(int) + BACKDROP_DISTANCE, 0, 255).astype(np.uint8))
                                for c in backdrop]  # fmt: skip
        motion = np.max([self._motion(f) for f in small_frames], axis=0)
        self.box = _box(np.maximum(self.still, motion) > 0.5, self.size, self.small)
        # What of the first frame's subject is not in the still background moves away later (an arm's first
        # position): from then on the motion mask has it wherever it is; the cut-out keeps the rest. Where the
        # still background itself shows the subject (where an arm is most of the time), the motion mask cannot
        # see it: there, whatever is not the backdrop's colour is the subject.
        self.still = self.still * (1 - self._motion(first_small))
        self.still = np.maximum(self.still, (motion > 0) & ~self._looks_like_backdrop(self.background))
        self.still = self.still.astype(np.float32)

    def _shrink(self, frame: np.ndarray) -> np.ndarray:
        return cv2.resize(frame, self.small, interpolation=cv2.INTER_LINEAR)  # enough to see what moves

    def _motion(self, small: np.ndarray) -> np.ndarray:
        """What differs from the still background, in a frame at the model's size."""
        difference = cv2.absdiff(small, self.background)
        # summed over R, G and B (saturating at 255, well above the threshold)
        moving = (cv2.transform(difference, np.ones((1, 3), np.float32)) > MOTION_THRESHOLD).astype(np.uint8)
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        return cv2.dilate(moving, np.ones((3, 3), np.uint8)).astype(np.float32)

    def _looks_like_backdrop(self, small: np.ndarray) -> np.ndarray:
        near = np.zeros(small.shape[:2], np.uint8)
        for low, high in self._backdrop_boxes:  # a box around each colour: inRange, the cheapest test per frame
            near |= cv2.inRange(small, low, high)
        return near > 0

    def drawn_side(self, height: int) -> int:
        """The longer side to decode the clip at so that the subject's box comes out `height` pixels tall."""
        return max(8, round(max(self.size) * height / self.box[3]))

    def cut(self, frame: np.ndarray, height: int) -> Cutout:
        """This frame's subject, `height` pixels tall: the still cut-out joined by what moves, soft-edged, in the
        clip's box. The frame may be decoded at any scale; at the one drawn_side gives, nothing is resized but
        the small mask."""
        small = self._shrink(frame)
        subject = np.maximum(self.still, self._motion(small)) * ~self._looks_like_backdrop(small)
        # softened inside the outline (0 on it): its pixels there are partly the clip's backdrop
        alpha_small = np.clip(2 * cv2.GaussianBlur(subject, (0, 0), 1.0) - 1, 0, 1)
        sx, sy = frame.shape[1] / self.size[0], frame.shape[0] / self.size[1]
        x, y, w, h = self.box
        x0, y0 = round(x * sx), round(y * sy)
        x1 = min(frame.shape[1], max(x0 + 1, round((x + w) * sx)))
        y1 = min(frame.shape[0], max(y0 + 1, round((y + h) * sy)))
        rgb = frame[y0:y1, x0:x1]
        scale = 1.0
        if abs(rgb.shape[0] - height) > 1:  # a clip smaller than it is drawn: enlarged here
            scale = height / rgb.shape[0]
            rgb = cv2.resize(rgb, (max(1, round(rgb.shape[1] * scale)), height), interpolation=cv2.INTER_LINEAR)
        # the small mask's matching part, stretched to the subject's size
        mx, my = self.small[0] / self.size[0], self.small[1] / self.size[1]
        crop = alpha_small[int(y * my) : max(int(y * my) + 1, int(np.ceil((y + h) * my))),
                           int(x * mx) : max(int(x * mx) + 1, int(np.ceil((x + w) * mx)))]  # fmt: skip
        alpha = cv2.resize(crop, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)  # stays in 0..1
        mouth = self.mouth.moved(-x, -y).scaled(sx * scale) if self.mouth else None
        return Cutout(rgb, alpha, mouth)


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

"""Talking mouths: where a subject's mouth is, and that mouth opened as far as the voice is loud.

Where: on a photograph, inside the face the detector found, the darkest row between the nose and the chin (the
line between the lips). On a drawing, which no face detector finds, the largest skin-coloured blob in the upper
part of the subject is the face and its lowest hole is the drawn mouth.

How it opens: the lower lip and the chin are pulled down by a smooth displacement (strongest under the middle of
the mouth, none at its corners and below the chin), and the gap that opens between the lips is the dark inside
of the mouth. The opening follows the speech level frame by frame; level 0 leaves the picture as it is."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MOUTH_INSIDE = np.array([62, 22, 28], np.float32)  # the dark red of an open mouth, RGB
# Drawn skin: orange-ish hues, neither grey nor fully saturated, not dark (HSV, OpenCV's 0..180 hue). Hair, red
# lips, pink or blue shirts, wood and beige backdrops fall outside it.
SKIN_LOW, SKIN_HIGH = (0, 38, 77), (18, 158, 255)
FACE_ZONE = 0.4  # a face's mouth lies in this upper share of the subject


@dataclass(frozen=True)
class Mouth:
    """A mouth in a picture's pixels: its centre column, the line between its lips, its width corner to corner,
    how far the jaw drops when fully open, and how far below the lips the chin ends."""

    x: float
    y: float
    width: float
    drop: float
    chin: float

    def moved(self, dx: float, dy: float) -> Mouth:
        return Mouth(self.x + dx, self.y + dy, self.width, self.drop, self.chin)

    def scaled(self, factor: float) -> Mouth:
        return Mouth(self.x * factor, self.y * factor, self.width * factor, self.drop * factor, self.chin * factor)


def find_mouth(rgb: np.ndarray, alpha: np.ndarray, face: tuple[int, int, int, int] | None) -> Mouth | None:
    """The subject's mouth, from the detected face when there is one, else from a drawn face; None if neither."""
    if face is not None:
        return _mouth_in_face(rgb, face)
    return _drawn_mouth(rgb, alpha)


def _mouth_in_face(rgb: np.ndarray, face: tuple[int, int, int, int]) -> Mouth | None:
    fx, fy, fw, fh = face
    # A detector's face box runs from the brows to about the chin; the lips lie in its lower quarter.
    r0, r1 = fy + round(0.72 * fh), min(rgb.shape[0], fy + round(0.95 * fh))
    c0, c1 = max(0, fx + round(0.3 * fw)), min(rgb.shape[1], fx + round(0.7 * fw))
    if r1 - r0 < 3 or c1 - c0 < 3:
        return None
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[r0:r1, c0:c1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    rows = np.convolve(gray.mean(axis=1), np.ones(3) / 3, mode="same")
    y = r0 + int(np.argmin(rows[1:-1])) + 1  # the line between the lips is the darkest row there
    return Mouth(x=fx + fw / 2, y=float(y), width=0.42 * fw, drop=0.13 * fh, chin=max(0.15 * fh, fy + 1.08 * fh - y))


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    return cv2.inRange(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV), SKIN_LOW, SKIN_HIGH)


def _drawn_mouth(rgb: np.ndarray, alpha: np.ndarray) -> Mouth | None:
    solid = alpha > 0.5
    ys, _ = np.nonzero(solid)
    if not len(ys):
        return None
    top, height = ys.min(), ys.max() - ys.min() + 1
    skin = (skin_mask(rgb) > 0) & solid
    count, labels, stats, _ = cv2.connectedComponentsWithStats(skin.astype(np.uint8), connectivity=8)
    # The face: the largest skin blob that starts in the upper half of the subject (hands are smaller). A noisy
    # photograph can hold a hundred thousand specks: they are weighed all at once.
    areas = stats[1:, cv2.CC_STAT_AREA]
    candidate = (stats[1:, cv2.CC_STAT_TOP] < top + height / 2) & (areas >= 0.002 * solid.sum())
    if not candidate.any():
        return None
    blob = 1 + int(np.argmax(np.where(candidate, areas, -1)))
    bx, by, bw, bh = (int(v) for v in stats[blob, :4])
    region = (labels[by : by + bh, bx : bx + bw] == blob).astype(np.uint8)
    # Holes: what the blob encloses but is not skin (eyes, mouth). Flood the outside from a one-pixel frame.
    framed = cv2.copyMakeBorder(region, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    outside = framed.copy()
    cv2.floodFill(outside, np.zeros((bh + 4, bw + 4), np.uint8), (0, 0), 1)
    holes = (outside[1:-1, 1:-1] == 0).astype(np.uint8)
    count, _, hole_stats, centres = cv2.connectedComponentsWithStats(holes, connectivity=8)
    rows = centres[1:, 1]
    found = (hole_stats[1:, cv2.CC_STAT_AREA] >= 4) & (by + rows < top + FACE_ZONE * height)
    if not found.any():
        return None
    mouth = 1 + int(np.argmax(np.where(found, rows, -np.inf)))  # the lowest hole of the face: the eyes are above it
    hx, hy, hw, hh = (int(v) for v in hole_stats[mouth, :4])
    face_width = float(region[: max(1, hy)].sum(axis=1).max())  # the head's width above the mouth
    return Mouth(x=bx + hx + hw / 2, y=by + hy + 0.3 * hh, width=max(hw, 0.3 * face_width),
                 drop=0.13 * face_width, chin=0.3 * face_width)  # fmt: skip


def open_mouth(rgb: np.ndarray, mouth: Mouth, level: float) -> tuple[np.ndarray, int, int]:
    """The part of `rgb` around the mouth with the mouth opened to `level` (0..1), and where that part lies
    (left, top). Only that part changes."""
    half = 0.7 * mouth.width  # the jaw moves across a little more than the mouth's width
    fall = 0.6 * mouth.chin  # below the chin the pull fades out over this many rows
    x0, x1 = max(0, int(mouth.x - half)), min(rgb.shape[1], int(np.ceil(mouth.x + half)) + 1)
    y0 = max(0, int(mouth.y) - 1)
    y1 = min(rgb.shape[0], int(np.ceil(mouth.y + mouth.chin + fall)) + 1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return rgb[y0:y1, x0:x1], x0, y0
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)
    across = 0.5 * (1 + np.cos(np.pi * np.clip(np.abs(xs - mouth.x) / half, 0, 1)))  # 1 mid-mouth, 0 at the sides
    below = ys - mouth.y
    down = np.where(below < 0, 0.0, np.clip(1 - (below - mouth.chin) / fall, 0, 1))  # lips to chin, then fading
    pull = (mouth.drop * float(np.clip(level, 0, 1))) * down[:, None] * across[None, :]
    map_x = np.broadcast_to(xs[None, :], pull.shape).astype(np.float32)
    map_y = (ys[:, None] - pull).astype(np.float32)
    opened = cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    # Where the pulled rows come from above the lips, the gap shows the inside of the mouth (soft lower edge).
    inside = np.clip(mouth.y - map_y, 0, 1) * (below[:, None] >= 0)
    opened += inside[:, :, None] * (MOUTH_INSIDE - opened)
    return opened.round().astype(np.uint8), x0, y0

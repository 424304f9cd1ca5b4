"""Subjects cut out of their references: the picture's own alpha when it has one, otherwise GrabCut seeded by a
face detector (a person: face certain, body below it probable) or by the centre of the picture. GrabCut runs on a
small copy (speed); its outline is then keyed out of enclosed patches of the backdrop (the gap between an arm and
the body) and refined at full size (matting.py), and the colour at the soft edge is the subject's own, not mixed
with the reference's backdrop, so that no light fringe follows the subject onto a darker place.
Each cut-out knows where its mouth is (mouth.py), so that it can talk.
A cut-out that comes out implausibly small or large falls back to the whole picture in a feathered oval."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from r2v.engines.animatic.matting import foreground, key_backdrop, refine
from r2v.engines.animatic.mouth import Mouth, find_mouth
from r2v.media.people import find_face  # the same face finder that tells people from objects

WORK_SIDE = 200  # GrabCut runs on a picture this size (speed), its mask is scaled back up
KEY_SIDE = 400  # the backdrop is keyed out of GrabCut's mask at this size (a gap of a few pixels shows)
ITERATIONS = 2  # a third changed no pixel of the masks of the guide's pictures, and costs 15%
MIN_SHARE, MAX_SHARE = 0.06, 0.93
FOREGROUND_MARGIN = 16  # pixels of backdrop kept around a cut-out while its edge colours are worked out


@dataclass
class Cutout:
    rgb: np.ndarray  # H x W x 3 uint8
    alpha: np.ndarray  # H x W float32 0..1
    mouth: Mouth | None  # in rgb's pixels, when a face (and in it a mouth) was found
    origin: tuple[int, int] = (0, 0)  # where this cut-out's box lies in the picture it was cut from
    repeats: bool = False  # drawn again and again within a shot (a looping clip's frame): sized once (layers.py)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The bounding box of what shows (soft edges included: a crop there would cut them hard)."""
        x, y, w, h = cv2.boundingRect((self.alpha > 0.02).astype(np.uint8))
        if not w:
            return 0, 0, self.rgb.shape[1], self.rgb.shape[0]
        return x, y, w, h

    def cropped(self) -> Cutout:
        x, y, w, h = self.box
        mouth = self.mouth.moved(-x, -y) if self.mouth else None
        return Cutout(self.rgb[y : y + h, x : x + w], self.alpha[y : y + h, x : x + w], mouth, origin=(x, y))


def image_alpha(path: Path) -> np.ndarray | None:
    """The file's own transparency (0..1), or None when it is opaque."""
    with Image.open(path) as image:
        if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
            return None
        alpha = np.asarray(image.convert("RGBA"))[:, :, 3].astype(np.float32) / 255
    return alpha if alpha.min() < 0.98 else None


def cut_out(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Cutout:
    face = find_face(rgb)
    alpha = (_grabcut(rgb, face) if alpha is None else alpha).astype(np.float32)
    cut = Cutout(rgb, alpha, find_mouth(rgb, alpha, face)).cropped()  # the mouth: on the picture as it is
    # the colour at the soft edge, unmixed from the backdrop: worked out around the cut-out only, with a margin of
    # the backdrop it is unmixed from
    (x, y), (h, w) = cut.origin, cut.alpha.shape
    x0, y0 = max(0, x - FOREGROUND_MARGIN), max(0, y - FOREGROUND_MARGIN)
    x1, y1 = min(rgb.shape[1], x + w + FOREGROUND_MARGIN), min(rgb.shape[0], y + h + FOREGROUND_MARGIN)
    unmixed = foreground(rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1])
    cut.rgb = np.ascontiguousarray(unmixed[y - y0 : y - y0 + h, x - x0 : x - x0 + w])
    return cut


def _grabcut(rgb: np.ndarray, face) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    mask = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    # Probably the subject: the middle, down to the bottom edge (a person is often cut there by the frame).
    mask[int(sh * 0.05) :, int(sw * 0.1) : int(sw * 0.9)] = cv2.GC_PR_FGD
    if face is not None:
        fx, fy, fw, fh = (round(v * scale) for v in face)
        mask[fy:, max(0, fx - fw) : fx + 2 * fw] = cv2.GC_PR_FGD  # the body below the face
        mask[fy + fh // 5 : fy + fh * 4 // 5, fx + fw // 5 : fx + fw * 4 // 5] = cv2.GC_FGD
    border = max(1, round(min(sh, sw) * 0.02))
    mask[:border], mask[:, :border], mask[:, -border:] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation is random: fixed, so a render is repeatable
    try:
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), mask, None, background, foreground,
                    ITERATIONS, cv2.GC_INIT_WITH_MASK)  # fmt: skip
    except cv2.error:
        return _oval(h, w)
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if count > 2:  # keep the subject's parts (a head, a dress, a raised hand), drop specks
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = 1 + np.flatnonzero(areas >= 0.08 * areas.max())
        fg = np.isin(labels, keep).astype(np.uint8)
    share = fg.mean()
    if not MIN_SHARE <= share <= MAX_SHARE:
        return _oval(h, w)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    # keyed after the closing, which may have shut a gap between an arm and the body
    scale = min(1.0, KEY_SIDE / max(h, w))
    size = max(8, round(w * scale)), max(8, round(h * scale))
    fg = (cv2.resize(fg.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) > 0.5).astype(np.uint8)
    larger = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    fg = key_backdrop(larger, fg, tuple(round(v * scale) for v in face) if face is not None else None)
    return refine(rgb, fg)


def _oval(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = ((xx - w / 2) / (w * 0.48)) ** 2 + ((yy - h / 2) / (h * 0.48)) ** 2
    return np.clip((1.0 - d) / 0.12, 0, 1).astype(np.float32)

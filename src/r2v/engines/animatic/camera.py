"""Camera moves as eased affine transforms of the composed frame: push in, pull out, pans, tilts, tracking and
orbit. `static` is the identity (no resampling at all)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from r2v.director.storyboard import ease


def view(kind: str, t: float) -> tuple[float, float, float, float]:
    """(zoom, centre x, centre y, rotation degrees) at shot time t (0..1); centres in frame fractions."""
    e = ease(t)
    if kind == "push_in":
        return 1.0 + 0.2 * e, 0.5, 0.45 + 0.05 * (1 - e), 0.0
    if kind == "pull_out":
        return 1.2 - 0.2 * e, 0.5, 0.45 + 0.05 * e, 0.0
    if kind in ("pan_left", "pan_right"):
        sweep = 0.06 * (1 - 2 * e)
        return 1.14, 0.5 + (sweep if kind == "pan_left" else -sweep), 0.5, 0.0
    if kind in ("tilt_up", "tilt_down"):
        sweep = 0.06 * (1 - 2 * e)
        return 1.14, 0.5, 0.5 + (sweep if kind == "tilt_up" else -sweep), 0.0
    if kind == "track":
        return 1.1, 0.46 + 0.08 * e, 0.5, 0.0
    if kind == "orbit":
        return 1.12, 0.5 + 0.04 * math.sin(2 * math.pi * e), 0.5, 2.0 * math.sin(2 * math.pi * e)
    return 1.0, 0.5, 0.5, 0.0


def apply(frame: np.ndarray, kind: str, t: float) -> np.ndarray:
    zoom, cx, cy, angle = view(kind, t)
    if zoom == 1.0 and cx == 0.5 and cy == 0.5 and angle == 0.0:
        return frame
    h, w = frame.shape[:2]
    matrix = cv2.getRotationMatrix2D((cx * w, cy * h), angle, zoom)
    matrix[0, 2] += w / 2 - cx * w  # bring the view's centre to the frame's centre
    matrix[1, 2] += h / 2 - cy * h
    return cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

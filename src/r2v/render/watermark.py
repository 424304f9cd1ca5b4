"""The "AI生成" watermark, drawn bottom-right, with the glyph subset of Noto Sans CJK SC shipped in assets/."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TEXT = "AI生成"


@lru_cache(maxsize=8)
def _overlay(width: int, height: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(rgb, alpha 0..1, x, y) of the watermark for a video of this size."""
    font_size = max(14, round(min(width, height) * 0.045))
    font_file = resources.files("r2v.render") / "assets" / "watermark-font.otf"
    with resources.as_file(font_file) as path:
        font = ImageFont.truetype(str(path), font_size)
    left, top, right, bottom = font.getbbox(TEXT)
    pad = max(2, font_size // 8)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    canvas = Image.new("LA", (w, h), (0, 0))
    draw = ImageDraw.Draw(canvas)
    # A dark shadow under white text keeps it readable on any background.
    draw.text((pad - left + 1, pad - top + 1), TEXT, font=font, fill=(0, 160))
    draw.text((pad - left, pad - top), TEXT, font=font, fill=(255, 230))
    arr = np.asarray(canvas, dtype=np.float32)
    rgb = np.repeat(arr[:, :, :1], 3, axis=2)
    alpha = arr[:, :, 1:2] / 255.0
    margin = max(8, round(min(width, height) * 0.025))
    return rgb, alpha, width - w - margin, height - h - margin


def apply(frame: np.ndarray) -> np.ndarray:
    """Draw the watermark into an RGB uint8 frame, in place, and return it."""
    height, width = frame.shape[:2]
    rgb, alpha, x, y = _overlay(width, height)
    h, w = alpha.shape[:2]
    region = frame[y : y + h, x : x + w].astype(np.float32)
    frame[y : y + h, x : x + w] = (region * (1 - alpha) + rgb * alpha + 0.5).astype(np.uint8)
    return frame


def box(width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) where the watermark lands: for tests and for engines that keep the area clear."""
    _, alpha, x, y = _overlay(width, height)
    return x, y, alpha.shape[1], alpha.shape[0]

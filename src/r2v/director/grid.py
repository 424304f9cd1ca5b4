"""Storyboard grids: a single reference image made of 2x2 up to 4x4 panels (with or without gutters and an outer
border, gutters of any colour, panel numbers drawn in) is found and split into panels in reading order.

A separator is a full-height column (or full-width row) that is either one flat colour (a gutter or border) or
a cut: the picture changes across it along most of its length. A grid needs 1..3 interior separators in each
direction, evenly spaced, so a photo with a door frame or a horizon is never split."""

from __future__ import annotations

import numpy as np

FLAT_DEVIATION = 24.0  # summed RGB distance from the line's median colour that still counts as the same colour
FLAT_SHARE = 0.97  # of a gutter line's pixels are its colour (JPEG ringing may touch the rest)
CUT_DIFF = 28.0  # summed RGB difference across a cut
CUT_SHARE = 0.72  # of the line's length must change across a cut
EVEN_TOLERANCE = 0.04  # panels may differ in size by this share of the image side
MIN_PANEL_SHARE = 0.15
MERGE_GAP = 3  # separators this close (in pixels) are one
ANALYSIS_SIDE = 2048  # larger images are analysed scaled down (panel edges within a few pixels)


Box = tuple[int, int, int, int]  # x, y, width, height


def find_panels(image: np.ndarray) -> list[Box]:
    """Panel boxes of a storyboard grid in reading order (left to right, top to bottom), or [] if the image is
    not a grid. `image` is RGB uint8."""
    h, w = image.shape[:2]
    scale = min(1.0, ANALYSIS_SIDE / max(h, w))
    small = image if scale == 1.0 else _resize(image, scale)
    columns = _spans(small.astype(np.float32))
    rows = _spans(small.astype(np.float32).transpose(1, 0, 2))
    if columns is None or rows is None:
        return []
    sx, sy = w / small.shape[1], h / small.shape[0]
    return [(round(x0 * sx), round(y0 * sy), round((x1 - x0) * sx), round((y1 - y0) * sy))
            for y0, y1 in rows for x0, x1 in columns]  # fmt: skip


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    return cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)  # fmt: skip


def _separator_columns(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: (is a flat line, has a cut through the picture just before it)."""
    median = np.median(pixels, axis=0)  # (columns, 3)
    flat = (np.abs(pixels - median).sum(axis=2) < FLAT_DEVIATION).mean(axis=0) > FLAT_SHARE
    change = np.abs(np.diff(pixels, axis=1)).sum(axis=2) > CUT_DIFF  # (rows, columns - 1)
    cut = np.zeros(pixels.shape[1], bool)
    cut[1:] = change.mean(axis=0) > CUT_SHARE  # a cut lies between column x-1 and x
    return flat, cut


def _separators(pixels: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each separator: the flat columns of a gutter, or an empty span at a bare cut."""
    flat, cut = _separator_columns(pixels)
    found: list[tuple[int, int]] = []
    for a, b in _runs(flat | cut):
        flats = np.flatnonzero(flat[a:b])
        span = (a + int(flats[0]), a + int(flats[-1]) + 1) if flats.size else (a, a)
        if found and span[0] - found[-1][1] <= MERGE_GAP:  # one gutter, broken by compression noise
            previous = found.pop()
            wide = [s for s in (previous, span) if s[1] > s[0]]
            span = (min(s[0] for s in wide), max(s[1] for s in wide)) if wide else previous
        found.append(span)
    return found


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    runs, start = [], None
    for x, on in enumerate(mask):
        if on and start is None:
            start = x
        elif not on and start is not None:
            runs.append((start, x))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    return runs


def _spans(pixels: np.ndarray) -> list[tuple[int, int]] | None:
    """The panels' [start, end) spans along the x axis of `pixels`, or None if there is no even split."""
    width = pixels.shape[1]
    runs = _separators(pixels)
    left = runs[0][1] if runs and runs[0][0] == 0 else 0  # an outer border
    right = runs[-1][0] if runs and runs[-1][1] == width else width
    interior = [(a, b) for a, b in runs if a > left and b < right]
    if not interior or right - left < width * 0.5:
        return None
    edges = [left]
    for a, b in interior:
        edges += [a, b]
    edges.append(right)
    spans = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
    sizes = [b - a for a, b in spans]
    if not 2 <= len(spans) <= 4 or min(sizes) < width * MIN_PANEL_SHARE:
        return None
    if max(sizes) - min(sizes) > width * EVEN_TOLERANCE:
        return None
    gutters = [b - a for a, b in interior]
    if max(gutters) - min(gutters) > max(2, width * 0.02):  # gutters of one grid are alike
        return None
    return spans

"""Storyboard grid detection on generated grids of every layout (2x2 to 4x4, with and without gutters and outer
borders, gutters of several colours, panel numbers drawn in) and on normal pictures, which are never split."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from r2v.demo.assets import make_guide_assets
from r2v.director.grid import find_panels
from r2v.render.decode import read_image

pytestmark = pytest.mark.unit


def _panel(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A small scene: a gradient sky, a ground, and a few shapes, all in random colours."""
    top, bottom = rng.integers(30, 225, 3), rng.integers(30, 225, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    img = (top * (1 - t) + bottom * t).repeat(w, axis=1).astype(np.uint8)
    ground = int(h * rng.uniform(0.55, 0.8))
    img[ground:] = rng.integers(30, 225, 3)
    for _ in range(4):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(h // 12, h // 4))
        cv2.circle(img, (cx, cy), r, colour, -1)
    return img


def make_grid(cols: int, rows: int, panel=(300, 200), gutter=0, border=0, colour=(255, 255, 255), numbers=False,
              seed=0):  # fmt: skip
    rng = np.random.default_rng(seed)
    pw, ph = panel
    width = 2 * border + cols * pw + (cols - 1) * gutter
    height = 2 * border + rows * ph + (rows - 1) * gutter
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[:] = colour
    boxes = []
    for r in range(rows):
        for c in range(cols):
            x, y = border + c * (pw + gutter), border + r * (ph + gutter)
            tile = _panel(rng, pw, ph)
            if numbers:
                cv2.putText(tile, str(r * cols + c + 1), (8, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 3)
            canvas[y : y + ph, x : x + pw] = tile
            boxes.append((x, y, pw, ph))
    return canvas, boxes


LAYOUTS = [(2, 2), (3, 3), (4, 4), (3, 2), (2, 3), (4, 3), (3, 4), (2, 4), (4, 2)]
STYLES = {
    "borderless": {},
    "white gutters": {"gutter": 12, "colour": (255, 255, 255)},
    "black gutters and border": {"gutter": 8, "border": 16, "colour": (0, 0, 0)},
    "coloured gutters, numbers": {"gutter": 20, "border": 20, "colour": (40, 120, 200), "numbers": True},
    "thin grey lines": {"gutter": 2, "colour": (128, 128, 128)},
}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("layout", LAYOUTS, ids=[f"{c}x{r}" for c, r in LAYOUTS])
def test_grids_split_into_their_panels_in_reading_order(layout, style):
    cols, rows = layout
    image, boxes = make_grid(cols, rows, seed=cols * 10 + rows, **STYLES[style])
    found = find_panels(image)
    assert len(found) == len(boxes), found
    for got, want in zip(found, boxes, strict=True):
        assert all(abs(g - w) <= 4 for g, w in zip(got, want, strict=True)), (got, want)


def test_a_large_grid_is_found_at_full_resolution():
    image, boxes = make_grid(3, 3, panel=(640, 360), gutter=24, border=24, colour=(250, 250, 250), numbers=True)
    found = find_panels(image)
    assert len(found) == 9
    assert all(abs(g - w) <= 6 for got, want in zip(found, boxes, strict=True) for g, w in zip(got, want, strict=True))


def test_normal_pictures_are_never_split(tmp_path):
    assets = make_guide_assets(tmp_path)
    pictures = [read_image(assets[name]) for name in ("girl", "sunflowers", "guitar", "room", "first_frame")]
    rng = np.random.default_rng(7)
    pictures.append(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))  # noise
    pictures.append(np.full((400, 600, 3), 90, np.uint8))  # one flat colour
    door = _panel(rng, 800, 600)
    door[:, 398:402] = 0  # one strong full-height line in the middle: a door frame, not a grid
    pictures.append(door)
    horizon = _panel(rng, 800, 600)
    horizon[299:301, :] = 255
    pictures.append(horizon)
    single, _ = make_grid(1, 1, panel=(640, 480), border=20, colour=(255, 255, 255))  # a framed photo
    pictures.append(single)
    for picture in pictures:
        assert find_panels(picture) == []


@pytest.mark.parametrize("style", ["borderless", "white gutters", "coloured gutters, numbers"])
def test_grids_survive_jpeg_compression(style):
    image, boxes = make_grid(3, 3, seed=5, **STYLES[style])
    ok, encoded = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1]
    found = find_panels(decoded)
    assert len(found) == 9
    assert all(abs(g - w) <= 4 for got, want in zip(found, boxes, strict=True) for g, w in zip(got, want, strict=True))

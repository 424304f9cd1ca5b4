"""Clean mattes, measured on cut-outs and rendered frames of people drawn here (whose true outline is known: the
same drawing on two backdrops differs exactly where the backdrop shows):

- no fringe: just outside a subject's outline, on a dark place, the frame is as dark as the place (the
  reference's light backdrop no longer rims the subject);
- the backdrop between a raised arm and the head is keyed out, not carried along as a patch;
- a reference video's waving arm leaves no ghost: where the arm was a few frames ago the place shows;
- a listener is dimmed over a few frames, not in one."""

from __future__ import annotations

import math
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from r2v.demo.assets import draw_person, write_png, write_video
from r2v.director.storyboard import MEDIUM, Background, Line, Placement, Shot, Storyboard
from r2v.engines.animatic import AnimaticEngine
from r2v.engines.animatic.cutout import cut_out
from r2v.engines.animatic.layers import Layers
from r2v.engines.animatic.listeners import DIM_LISTENERS
from r2v.engines.base import Asset, RenderJob
from r2v.media.probe import probe

pytestmark = pytest.mark.engine

GIRL = dict(skin=(240, 200, 175), hair=(120, 60, 30), shirt=(220, 90, 120), long_hair=True)
BOY = dict(skin=(225, 180, 150), hair=(50, 35, 25), shirt=(60, 110, 200))
LIGHT = ((235, 225, 210), (200, 190, 175))  # draw_person's own backdrop: a light wall
PLACE = (30, 30, 40)  # the dark place the subjects are drawn onto
GAP = (500, 440)  # in the girl's picture: between her raised arm and her hair (draw_person's geometry)


def _truth(look: dict, size=(720, 960)) -> np.ndarray:
    """Where the drawing is the person (1) and where the backdrop shows (0)."""
    light = draw_person(*size, **look, background=LIGHT)
    green = draw_person(*size, **look, background=((20, 200, 20), (20, 200, 20)))
    return (np.abs(light.astype(np.int16) - green).max(axis=2) == 0).astype(np.uint8)


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _ring(mask: np.ndarray, inner: int, outer: int) -> np.ndarray:
    """The pixels `inner` to `outer` pixels outside a mask's outline."""
    return (cv2.dilate(mask, _disc(outer)) > 0) & ~(cv2.dilate(mask, _disc(inner)) > 0)


def _gap(mask: np.ndarray, near: tuple[int, int], reach: int = 30) -> np.ndarray:
    """Backdrop inside the figure's convex outline, clear of the figure, around `near` (x, y)."""
    hull = np.zeros_like(mask)
    cv2.fillPoly(hull, [cv2.convexHull(cv2.findNonZero(mask))], 1)
    gap = (hull > 0) & ~(cv2.dilate(mask, _disc(3)) > 0)
    box = np.zeros_like(gap)
    x, y = near
    box[max(0, y - reach) : y + reach, max(0, x - reach) : x + reach] = True
    return gap & box


def test_a_cut_out_brings_no_backdrop_along():
    picture = draw_person(720, 960, **GIRL, background=LIGHT)
    truth = _truth(GIRL)
    cut = cut_out(picture)
    (x, y), (h, w) = cut.origin, cut.alpha.shape
    truth = truth[y : y + h, x : x + w]
    place = np.array(PLACE, np.float32)
    composed = cut.rgb * cut.alpha[..., None] + place * (1 - cut.alpha[..., None])
    brightness = composed.mean(axis=2)
    band = _ring(truth, 2, 5)  # just outside the outline
    assert band.sum() > 1000
    assert abs(brightness[band].mean() - place.mean()) < 3, brightness[band].mean()
    assert np.percentile(brightness[band], 99) < place.mean() + 12
    gap = _gap(truth, (GAP[0] - x, GAP[1] - y))
    assert gap.sum() > 200
    assert cut.alpha[gap].max() < 0.1, cut.alpha[gap].mean()


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _render(tmp_path: Path, members: list[Asset], placements: list[Placement], size: tuple[int, int],
            lines: tuple[Line, ...] = ()) -> list[np.ndarray]:  # fmt: skip
    """One static medium shot of `placements`, set in the place (label 图9), 2 seconds, no sound."""
    place = write_png(tmp_path / "place.png", np.full((size[1], size[0], 3), PLACE, np.uint8))
    members = [*members, Asset("image", place, probe(place, "place"), "图9")]
    shot = Shot(0, "", 0.0, 2.0, framing=MEDIUM, subjects=[p.label for p in placements],
                background=Background("reference", "图9"), lines=list(lines), placements=placements)  # fmt: skip
    board = Storyboard(2.0, "zh", [shot], [p.label for p in placements])
    job = RenderJob(width=size[0], height=size[1], duration=2, seed=1, watermark=False, audio=False, assets=members,
                    storyboard=board)  # fmt: skip
    out = tmp_path / "mattes.mp4"
    AnimaticEngine().render(job, out, lambda _: None)
    return _frames(out)


def test_no_fringe_and_no_patch_on_a_rendered_frame(tmp_path):
    """The girl at medium on a dark place, 720P: her true outline, drawn where the engine draws her cut-out."""
    picture = write_png(tmp_path / "girl.png", draw_person(720, 960, **GIRL, background=LIGHT))
    placement = Placement("图1", 0.5, 1.02, 0.8)
    frames = _render(tmp_path, [Asset("image", picture, probe(picture, "girl"), "图1")], [placement], (1280, 720))
    cut = cut_out(cv2.cvtColor(cv2.imread(str(picture)), cv2.COLOR_BGR2RGB))
    sized = Layers().sized(placement, cut, 720, True)  # the size the engine draws it at
    width, height = sized.size
    left, top = round(0.5 * 1280 - width / 2), round(1.02 * 720 - height)
    (x, y), (h, w) = cut.origin, cut.alpha.shape
    truth_cut = _truth(GIRL)[y : y + h, x : x + w]
    drawn = cv2.resize(truth_cut.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) > 0.5
    truth = np.zeros((720 + height, 1280 + width), np.uint8)  # room for the part below the frame
    truth[top : top + height, left : left + width] = drawn
    truth = np.ascontiguousarray(truth[:720, :1280])
    frame = frames[30].astype(np.float32)
    brightness = frame.mean(axis=2)
    place = float(np.mean(PLACE))
    band = _ring(truth, 2, 4)
    band[-6:] = False  # the frame's bottom edge cuts her: no outline there
    assert band.sum() > 500
    assert abs(brightness[band].mean() - place) < 5, brightness[band].mean()
    scale = height / h
    gap = _gap(truth, (left + round((GAP[0] - x) * scale), top + round((GAP[1] - y) * scale)), round(30 * scale))
    assert gap.sum() > 100
    assert abs(brightness[gap].mean() - place) < 5, brightness[gap].mean()


MAGENTA = (230, 40, 230)  # the clip's backdrop: a colour nothing in the drawn boy has


def test_a_waving_arm_in_a_reference_video_leaves_no_ghost(tmp_path):
    """The boy waves fast in front of a magenta wall; drawn on a dark place, wherever his arm was three frames
    ago and is no longer, the place shows, and no frame shows the clip's wall."""
    clip = [draw_person(480, 640, **BOY, background=(MAGENTA, MAGENTA), arm_angle=50 * math.sin(i / 3))
            for i in range(60)]  # fmt: skip
    path = write_video(tmp_path / "wave.mp4", clip, None)
    member = Asset("video", path, probe(path, "wave"), "视频1")
    frames = _render(tmp_path, [member], [Placement("视频1", 0.5, 1.02, 0.8)], (640, 360))
    place = np.array(PLACE, np.int16)

    def blue(frame: np.ndarray) -> np.ndarray:  # the shirt and the arm in it
        f = frame.astype(np.int16)
        return ((f[..., 2] - f[..., 0] > 60) & (f[..., 2] - f[..., 1] > 40)).astype(np.uint8)

    checked = 0
    for i in range(10, len(frames)):
        frame = frames[i].astype(np.int16)
        wall = ((frame[..., 0] - frame[..., 1] > 40) & (frame[..., 2] - frame[..., 1] > 40)).sum()
        # at most a thin rim of the clip's wall where H.264 mixed its colour into the edge (before: 1000-2000)
        assert wall < 150, (i, wall)
        was = blue(frames[i - 3]) & ~(cv2.dilate(blue(frames[i]), _disc(4)) > 0)
        if was.sum() < 30:
            continue
        shows = np.abs(frame[was > 0] - place).max(axis=1)
        assert (shows > 25).mean() < 0.03, (i, (shows > 25).mean())  # before: up to half of it, every other frame
        checked += 1
    assert checked > 20  # the arm moved enough, often enough, to look for a ghost


def test_a_listener_is_dimmed_over_a_few_frames(tmp_path):
    pictures = {label: write_png(tmp_path / f"{label}.png", draw_person(720, 960, **look, background=LIGHT))
                for label, look in (("图1", GIRL), ("图2", BOY))}  # fmt: skip
    members = [Asset("image", path, probe(path, label), label) for label, path in pictures.items()]
    placements = [Placement("图1", 0.25, 1.02, 0.8), Placement("图2", 0.75, 1.02, 0.8)]
    line = Line("图1", "你好，今天天气真好。", "zh", start=0.5, end=1.5)
    frames = _render(tmp_path, members, placements, (640, 360), lines=(line,))
    shirt = [float(f[290:340, 460:500].mean()) for f in frames]  # the listener's shirt
    before, during = np.mean(shirt[:12]), np.mean(shirt[32:42])
    assert during / before < DIM_LISTENERS + 0.04, (before, during)  # the listener is dimmed
    steps = np.abs(np.diff(shirt)) / before
    assert steps.max() < 0.035, steps.max()  # a little at a time: no frame changes it by more
    assert (steps > 0.004).sum() >= 5  # over several frames (in and out)


@pytest.mark.parametrize("seconds", [1.3, 3.0])
def test_a_looping_clip_worked_once_plays_the_same_frames_as_decoding_it_again(tmp_path, seconds):
    """A reference clip shorter than its shot is decoded and cut out once (render/decode.video_loop) and repeated:
    exactly the frames that decoding it over and over (video_frames) gives."""
    from r2v.demo.assets import person_video
    from r2v.render.decode import video_frames, video_loop

    clip = person_video(tmp_path / "clip.mp4", seconds=seconds)
    for side in (300, 641):
        loop = video_loop(clip, side, 149)
        assert loop is not None and len(loop) == round(seconds * 30)
        again = list(video_frames(clip, 150, side))
        assert all(np.array_equal(a, loop[i % len(loop)]) for i, a in enumerate(again))
    assert video_loop(clip, 300, round(seconds * 30) - 1) is None  # longer than the limit: not kept

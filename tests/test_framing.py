"""Framing at every ratio, read back from rendered frames: with one, two or three people at wide and medium
framing, no subject reaches the frame's left or right edge at 16:9, 9:16, 1:1, 4:3 or 3:4 (the frame's edge
columns show the place behind them), while a close-up still fills the frame and is cut by its sides. And the fit
itself: relative sizes kept, held things kept in hand, a walk's ends inside the frame, an entrance from off-frame."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from r2v.demo.assets import draw_person, write_png
from r2v.director import Cast, direct
from r2v.director.storyboard import CLOSE_UP, MEDIUM, WIDE, Placement
from r2v.engines.animatic import AnimaticEngine
from r2v.engines.animatic.framing import MARGIN, fit
from r2v.engines.base import Asset, RenderJob
from r2v.media.probe import probe

pytestmark = pytest.mark.engine

# The five ratios at a quarter of their 720P sizes (the fit works in fractions of the frame).
RATIOS = {"16:9": (320, 180), "9:16": (180, 320), "1:1": (240, 240), "4:3": (276, 208), "3:4": (208, 276)}
PLACE = (40, 45, 60)  # a flat dark place, a colour no person has
PEOPLE = {"图1": dict(skin=(240, 200, 175), hair=(120, 60, 30), shirt=(220, 90, 120), long_hair=True),
          "图2": dict(skin=(225, 180, 150), hair=(50, 35, 25), shirt=(60, 110, 200), arm_angle=25),
          "图3": dict(skin=(200, 150, 120), hair=(30, 30, 30), shirt=(90, 160, 80), arm_angle=-20)}  # fmt: skip


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("framing")
    files = {label: write_png(folder / f"{label}.png", draw_person(720, 960, **look)) for label, look in PEOPLE.items()}
    files["图4"] = write_png(folder / "place.png", np.full((720, 1280, 3), PLACE, np.uint8))
    return files


def _render(tmp_path: Path, references: dict[str, Path], prompt: str, people: int, size: tuple[int, int]):
    labels = [*list(PEOPLE)[:people], "图4"]
    members = [Asset("image", references[label], probe(references[label], label), label) for label in labels]
    board = direct(prompt, Cast.of([(label, "image") for label in labels]), 2)
    width, height = size
    job = RenderJob(width=width, height=height, duration=2, seed=1, watermark=False, audio=False, assets=members,
                    prompt=prompt, storyboard=board)  # fmt: skip
    out = tmp_path / "framing.mp4"
    AnimaticEngine().render(job, out, lambda _: None)
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return board, frames


def _edge_difference(frame: np.ndarray) -> tuple[float, float]:
    """How far the two outermost columns on each side are from the place's colour (the largest difference)."""
    place = np.array(PLACE, np.int16)
    left = np.abs(frame[:, :2].astype(np.int16) - place).max()
    right = np.abs(frame[:, -2:].astype(np.int16) - place).max()
    return float(left), float(right)


PROMPTS = {
    (WIDE, 1): "全景：图1站在图4里。",
    (WIDE, 2): "全景：图1和图2站在图4里。",
    (WIDE, 3): "全景：图1、图2和图3站在图4里。",
    (MEDIUM, 1): "中景：图1站在图4里。",
    (MEDIUM, 2): "中景：图1和图2站在图4里。",
    (MEDIUM, 3): "中景：图1、图2和图3站在图4里。",
}


@pytest.mark.parametrize("ratio", list(RATIOS))
@pytest.mark.parametrize("framing, people", list(PROMPTS))
def test_no_subject_reaches_the_frames_sides(tmp_path, references, ratio, framing, people):
    board, frames = _render(tmp_path, references, PROMPTS[framing, people], people, RATIOS[ratio])
    (shot,) = board.shots
    assert shot.framing == framing and shot.camera == "static" and shot.background.label == "图4"
    assert len(shot.placements) == people
    for frame in (frames[0], frames[len(frames) // 2], frames[-1]):
        left, right = _edge_difference(frame)
        assert left < 16 and right < 16, (ratio, framing, people, left, right)  # the place, H.264 aside
    # and everyone is in the picture: each person's shirt colour shows
    frame = frames[len(frames) // 2].astype(np.int16)
    for label in list(PEOPLE)[:people]:
        shirt = np.array(PEOPLE[label]["shirt"], np.int16)
        assert (np.abs(frame - shirt).sum(axis=2) < 40).sum() > 0.003 * frame.shape[0] * frame.shape[1], label


def test_a_close_up_is_still_cut_by_the_frames_sides(tmp_path, references):
    board, frames = _render(tmp_path, references, "特写：图1站在图4里。", 1, RATIOS["9:16"])
    assert board.shots[0].framing == CLOSE_UP
    left, right = _edge_difference(frames[30])
    assert left > 60 and right > 60, (left, right)


def _span(p: Placement, aspect: float, width: int, height: int, t: float = 0.5) -> tuple[float, float]:
    centre, half = p.x_at(t) * width, aspect * p.height * height / 2
    return centre - half, centre + half


def test_the_fit_keeps_relative_sizes_and_the_director_s_order():
    people = [Placement("a", 0.2, 0.93, 0.55), Placement("b", 0.5, 0.93, 0.55 * 0.6, depth="far"),
              Placement("c", 0.8, 0.93, 0.55)]  # fmt: skip
    aspects = {"a": 0.6, "b": 0.6, "c": 0.6}
    fitted = fit(people, aspects, WIDE, 720, 1280)
    scale = fitted[0].height / people[0].height
    assert scale < 1
    for before, after in zip(people, fitted, strict=True):
        assert after.height == pytest.approx(before.height * scale, rel=1e-3)
        assert after.bottom == before.bottom  # feet stay on the floor the director chose
        low, high = _span(after, aspects[after.label], 720, 1280)
        assert low >= MARGIN * 720 - 0.5 and high <= 720 * (1 - MARGIN) + 0.5
    assert fitted[0].x < fitted[1].x < fitted[2].x
    assert fit(people, aspects, WIDE, 1280, 720) == people  # at 16:9 they already fit: untouched


def test_what_is_held_stays_in_hand_and_a_walk_ends_inside():
    holder = Placement("a", 0.2, 0.93, 0.55, motion="walk_right")
    guitar = Placement("g", 0.266, 0.765, 0.22, motion="walk_right", held_by="a")
    other = Placement("b", 0.8, 0.93, 0.55)
    aspects = {"a": 0.6, "g": 0.4, "b": 0.6}
    width, height = 720, 1280
    a, g, b = fit([holder, guitar, other], aspects, WIDE, width, height)
    scale = a.height / holder.height
    assert scale < 1
    # the held thing keeps its place in the hand, scaled with its holder, through the walk
    for t in (0.0, 0.5, 1.0):
        assert (g.x_at(t) - a.x_at(t)) * width == pytest.approx((guitar.x - holder.x) * width * scale, abs=0.5)
    assert a.bottom - g.bottom == pytest.approx((holder.bottom - guitar.bottom) * scale, abs=1e-3)
    # at both ends of the walk the walker and what it holds are inside the frame
    for t in (0.0, 1.0):
        for p in (a, g):
            low, high = _span(p, aspects[p.label], width, height, t)
            assert low >= MARGIN * width - 0.5 and high <= width * (1 - MARGIN) + 0.5, (p.label, t, low, high)


def test_an_entrance_still_starts_off_frame_and_a_close_up_is_left_alone():
    entering = Placement("a", 0.3, 1.02, 0.8, motion="enter_left")
    (fitted,) = fit([entering], {"a": 0.6}, MEDIUM, 720, 1280)
    assert _span(fitted, 0.6, 720, 1280, 0.0)[1] <= 0  # wholly off the left edge at first
    low, high = _span(fitted, 0.6, 720, 1280, 1.0)
    assert low >= 0 and high <= 720
    close = [Placement("a", 0.5, 1.75, 1.7)]
    assert fit(close, {"a": 0.6}, CLOSE_UP, 720, 1280) == close


def test_a_tilted_subject_is_fitted_by_its_turned_outline():
    """Lying down turns a cut-out on its side: the fit measures the outline as it is drawn then."""
    from r2v.director.storyboard import Key

    lying = Placement("a", 0.5, 0.93, 0.55, keys=[Key(t=0.5, tilt=90.0)])
    (fitted,) = fit([lying], {"a": 0.5}, WIDE, 720, 1280)
    assert fitted.height * 1280 <= 720 * (1 - 2 * MARGIN) + 1  # its length, now across the frame, fits


def test_someone_sitting_on_a_seat_is_fitted_with_it():
    """The animatic draws a sitter centred on its seat (wherever the seat is drawn): the two move together."""
    from r2v.director.storyboard import Key

    sitter = Placement("a", 0.8, 0.93, 0.55, keys=[Key(t=0.0, near="chair", gap=None, drop=0.25)])
    chair = Placement("chair", 0.8, 0.93, 0.3, drawn="chair")
    other = Placement("b", 0.2, 0.93, 0.55)
    aspects = {"a": 0.73, "chair": 0.6, "b": 0.6}
    a, seat, b = fit([sitter, chair, other], aspects, WIDE, 720, 1280)
    assert seat.x == pytest.approx(a.x) and seat.height / chair.height == pytest.approx(
        a.height / sitter.height, rel=1e-3
    )
    for p in (a, seat, b):
        low, high = _span(p, aspects[p.label], 720, 1280)
        assert low >= MARGIN * 720 - 0.5 and high <= 720 * (1 - MARGIN) + 0.5, (p.label, low, high)

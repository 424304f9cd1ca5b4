"""The animatic engine read back: subjects stand where the plan placed them (the crop there matches the
subject's reference better than any other reference), storyboard panels are the shots' pictures, the first
frame is frame 0, the speaker visibly moves while talking, and the same job gives the same bytes."""

from __future__ import annotations

import hashlib

import av
import cv2
import numpy as np
import pytest

from r2v.director import Cast, direct
from r2v.engines.animatic import AnimaticEngine
from r2v.engines.animatic.cutout import cut_out
from r2v.engines.animatic.engine import shot_frames
from r2v.engines.base import Asset, RenderJob
from r2v.media.probe import probe
from r2v.render.decode import read_image
from tests.test_grid import make_grid

pytestmark = pytest.mark.engine

W, H = 640, 360


def _asset(assets, name, kind, label, voice=None) -> Asset:
    return Asset(kind=kind, path=assets[name], info=probe(assets[name], name), label=label, voice=voice)


def _render(tmp_path, prompt, members, duration, name="v.mp4", first_frame=None, audio=False, seed=4, panels=()):
    board = direct(prompt, Cast.of([(a.label, a.kind) for a in members]), duration,
                   first_frame=first_frame is not None, panels=len(panels))  # fmt: skip
    board.panels = [list(p) for p in panels]
    job = RenderJob(width=W, height=H, duration=duration, seed=seed, watermark=False, audio=audio, assets=members,
                    first_frame=first_frame, prompt=prompt, storyboard=board)  # fmt: skip
    out = tmp_path / name
    result = AnimaticEngine().render(job, out, lambda _: None)
    assert result.frames == duration * 30
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == duration * 30
    return board, frames, out


def _histogram(rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], mask, [30, 16], [0, 180, 0, 256])
    return cv2.normalize(hist, hist).flatten()


def _placed_crop(frame: np.ndarray, placement) -> np.ndarray:
    """The middle of where the plan put the subject: a band around its centre line, inside the frame."""
    top = max(0, int((placement.bottom - placement.height * 0.85) * H))
    bottom = min(H, int((placement.bottom - placement.height * 0.15) * H))
    half = int(placement.height * H * 0.12)
    x = int(placement.x * W)
    return frame[top:bottom, max(0, x - half) : min(W, x + half)]


def test_subjects_stand_where_the_plan_placed_them(assets, tmp_path):
    names = {"图1": "girl", "图2": "sunflowers", "图3": "guitar"}
    members = [_asset(assets, name, "image", label) for label, name in names.items()]
    prompt = "中景：图1站着。中景：图2立在桌上。中景：图3靠在墙边。"
    board, frames, _ = _render(tmp_path, prompt, members, 6)
    references = {}
    for label, name in names.items():  # what the engine draws of each reference: its cut-out
        cut = cut_out(read_image(assets[name]))
        references[label] = _histogram(cut.rgb, (cut.alpha > 0.5).astype(np.uint8))
    checked = 0
    for shot, (first, last) in zip(board.shots, shot_frames(board, len(frames)), strict=True):
        frame = frames[(first + last) // 2]
        for placement in shot.placements:
            crop = _histogram(_placed_crop(frame, placement))
            scores = {label: cv2.compareHist(crop, ref, cv2.HISTCMP_CORREL) for label, ref in references.items()}
            assert max(scores, key=scores.get) == placement.label, (shot.index, placement.label, scores)
            assert scores[placement.label] > 0.2
            checked += 1
    assert checked == 3


def test_storyboard_panels_are_the_shots_pictures(tmp_path):
    grid, boxes = make_grid(2, 2, panel=(320, 180), gutter=10, colour=(255, 255, 255), seed=3)
    path = tmp_path / "grid.png"
    cv2.imwrite(str(path), grid[:, :, ::-1])
    member = Asset(kind="image", path=path, info=probe(path, "grid"), label="图1")
    board, frames, _ = _render(tmp_path, "参考图片。分镜：1. 全景：森林。2. 中景：小路。3. 近景：小屋。4. 特写：门。",
                               [member], 8, panels=boxes)  # fmt: skip
    assert [s.background.panel for s in board.shots] == [0, 1, 2, 3]
    for shot, (first, last) in zip(board.shots, shot_frames(board, len(frames)), strict=True):
        frame = frames[(first + last) // 2].astype(np.float32)
        diffs = []
        for x, y, w, h in boxes:
            panel = cv2.resize(grid[y : y + h, x : x + w], (W, H)).astype(np.float32)
            diffs.append(np.abs(frame - panel).mean())
        assert int(np.argmin(diffs)) == shot.background.panel, diffs


def test_the_first_frame_is_frame_zero(assets, tmp_path):
    members = [_asset(assets, "girl", "image", "图1")]
    _, frames, _ = _render(tmp_path, "图1在草地上奔跑。", members, 3, first_frame=assets["first_frame"])
    first = read_image(assets["first_frame"])  # 4:3, cover-fitted into 16:9: the middle rows
    rows = round(first.shape[1] * H / W)
    top = (first.shape[0] - rows) // 2
    expected = cv2.resize(first[top : top + rows], (W, H), interpolation=cv2.INTER_AREA).astype(np.float32)
    assert np.abs(frames[0].astype(np.float32) - expected).mean() < 4.0
    assert np.abs(frames[45].astype(np.float32) - expected).mean() > 4.0  # then the subject comes in


def test_the_speaker_moves_while_talking(assets, tmp_path):
    members = [_asset(assets, "girl", "image", "图1", voice=assets["girl_voice"])]
    board, frames, _ = _render(tmp_path, "近景：图1说：“今天的阳光真好，我们去公园吧。”", members, 4, audio=True)
    line = board.lines[0]
    inside = [f.astype(np.float32) for f in frames[round(line.start * 30) + 2 : round(line.end * 30) - 2]]
    after = [f.astype(np.float32) for f in frames[round(line.end * 30) + 4 : round(line.end * 30) + 14]]
    moving = np.mean([np.abs(a - b).mean() for a, b in zip(inside, inside[1:], strict=False)])
    still = np.mean([np.abs(a - b).mean() for a, b in zip(after, after[1:], strict=False)])
    assert moving > 3 * still + 0.05, (moving, still)


def _textured_place(path):
    """A picture with corners everywhere (seeded blobs and boxes on noise), so that feature matching can measure
    how the view moved between two frames."""
    rng = np.random.default_rng(11)
    picture = cv2.resize(rng.integers(0, 255, (36, 64, 3), dtype=np.uint8), (1280, 720), interpolation=cv2.INTER_CUBIC)
    for _ in range(80):
        x, y, size = int(rng.integers(0, 1280)), int(rng.integers(0, 720)), int(rng.integers(12, 60))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            cv2.rectangle(picture, (x, y), (x + size, y + size // 2), colour, -1)
        else:
            cv2.circle(picture, (x, y), size // 2, colour, -1)
    cv2.imwrite(str(path), picture)
    return path


def _view_change(before: np.ndarray, after: np.ndarray) -> tuple[float, float, float, float]:
    """How the picture moved from `before` to `after`: (scale, rotation in degrees, dx, dy), a similarity fitted
    to matched features."""
    orb = cv2.ORB_create(2000)
    k1, d1 = orb.detectAndCompute(cv2.cvtColor(before, cv2.COLOR_RGB2GRAY), None)
    k2, d2 = orb.detectAndCompute(cv2.cvtColor(after, cv2.COLOR_RGB2GRAY), None)
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(d1, d2)
    src = np.float32([k1[m.queryIdx].pt for m in matches])
    dst = np.float32([k2[m.trainIdx].pt for m in matches])
    matrix, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=2.0)
    assert matrix is not None and inliers.sum() >= 30, "too few features matched"
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    rotation = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
    # the move of the frame's centre, independent of the zoom around it
    centre = np.array([W / 2, H / 2])
    dx, dy = matrix[:, :2] @ centre + matrix[:, 2] - centre
    return scale, rotation, float(dx), float(dy)


@pytest.mark.parametrize(
    "words, kind",
    [("镜头推进", "push_in"), ("镜头拉远", "pull_out"), ("镜头向左摇", "pan_left"), ("镜头向右摇", "pan_right"),
     ("镜头上摇", "tilt_up"), ("镜头下摇", "tilt_down"), ("跟拍", "track"), ("环绕拍摄", "orbit"), ("固定镜头", "static")],
)  # fmt: skip
def test_each_camera_move_moves_the_view_its_way(tmp_path, words, kind):
    """Every camera word of the vocabulary is drawn as that move: measured on the frames themselves (the whole
    picture's zoom, turn and shift between the start and the end of the shot, or its middle for an orbit)."""
    place = _textured_place(tmp_path / "place.png")
    members = [Asset(kind="image", path=place, info=probe(place, "place"), label="图1")]
    board, frames, _ = _render(tmp_path, f"全景，{words}，在图1里。", members, 2, name=f"{kind}.mp4")
    assert board.shots[0].camera == kind and board.shots[0].placements == []
    scale, rotation, dx, dy = _view_change(frames[3], frames[56])
    zoomed, shifted = abs(scale - 1) > 0.05, max(abs(dx), abs(dy)) > 20
    expected = {
        "push_in": scale > 1.1 and abs(rotation) < 0.3,
        "pull_out": scale < 0.9 and abs(rotation) < 0.3,
        "pan_left": dx > 40 and abs(dy) < 5 and not zoomed,  # the camera turns left: the scene slides right
        "pan_right": dx < -40 and abs(dy) < 5 and not zoomed,
        "tilt_up": dy > 25 and abs(dx) < 5 and not zoomed,  # the camera tilts up: the scene slides down
        "tilt_down": dy < -25 and abs(dx) < 5 and not zoomed,
        "track": dx < -25 and abs(dy) < 5 and not zoomed,  # the camera travels right beside the action
        "static": not zoomed and not shifted and abs(rotation) < 0.1,
    }
    if kind == "orbit":  # circles around: turned one way a quarter in, the other way three quarters in
        quarter, three_quarters = _view_change(frames[3], frames[20])[1], _view_change(frames[3], frames[40])[1]
        assert min(abs(quarter), abs(three_quarters)) > 1.0 and quarter * three_quarters < 0, (quarter, three_quarters)
    else:
        assert expected[kind], (scale, rotation, dx, dy)


def test_same_job_same_bytes(assets, tmp_path):
    members = [_asset(assets, "girl", "image", "图1", voice=assets["girl_voice"]),
               _asset(assets, "boy_video", "video", "视频1")]  # fmt: skip
    prompt = "图1和视频1在聊天，视频1说：“你好。”"
    digests = [hashlib.sha256(_render(tmp_path, prompt, members, 2, name=f"{i}.mp4", audio=True, seed=s)[2]
                              .read_bytes()).hexdigest() for i, s in enumerate((3, 3))]  # fmt: skip
    assert digests[0] == digests[1]


def test_a_subject_that_enters_comes_in_from_off_frame(assets, tmp_path):
    members = [_asset(assets, "girl", "image", "图1")]
    board, frames, _ = _render(tmp_path, "中景：图1走进画面。", members, 3)
    placement = board.shots[0].placements[0]
    assert placement.motion == "enter_left"

    def band(frame):  # where the plan puts the subject once it has come in
        return _placed_crop(frame, placement).astype(np.float32)

    # the backdrop is a vertical gradient: without a subject, a row of the band is one colour
    assert band(frames[0]).std(axis=1).mean() < 2.0
    assert band(frames[-1]).std(axis=1).mean() > 10.0
    cut = cut_out(read_image(assets["girl"]))
    reference = _histogram(cut.rgb, (cut.alpha > 0.5).astype(np.uint8))
    assert cv2.compareHist(_histogram(band(frames[-1]).astype(np.uint8)), reference, cv2.HISTCMP_CORREL) > 0.2


def test_far_subjects_are_drawn_smaller_and_behind(assets, tmp_path):
    members = [_asset(assets, "girl", "image", "图1"), _asset(assets, "guitar", "image", "图2")]
    board, frames, _ = _render(tmp_path, "全景：图1站在近处，远处的图2靠在墙边。", members, 2)
    near, far = sorted(board.shots[0].placements, key=lambda p: p.depth != "near")
    assert (near.depth, far.depth) == ("near", "far") and far.height < near.height
    frame = frames[30]
    for placement, name in ((near, "girl"), (far, "guitar")):
        cut = cut_out(read_image(assets[name]))
        reference = _histogram(cut.rgb, (cut.alpha > 0.5).astype(np.uint8))
        crop = _placed_crop(frame, placement)
        assert cv2.compareHist(_histogram(crop), reference, cv2.HISTCMP_CORREL) > 0.2, placement


def test_a_reference_videos_own_background_does_not_follow_its_subject(assets, tmp_path):
    """The moving matte keeps the waving subject and drops the clip's backdrop: on a green place, hardly a
    pixel of the clip's own backdrop colours is drawn, while the subject (its blue shirt) is."""
    green = tmp_path / "green.png"
    cv2.imwrite(str(green), np.full((360, 640, 3), (60, 170, 60), np.uint8))
    members = [_asset(assets, "boy_video", "video", "视频1"), Asset("image", green, probe(green, "green"), "图1")]
    board, frames, _ = _render(tmp_path, "中景：视频1站在图1里挥手。", members, 2)
    assert board.shots[0].background.label == "图1"
    with av.open(str(assets["boy_video"])) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(np.int16)
    backdrop = np.array([first[5, 5], first[5, -5], first[first.shape[0] // 2, 5]])  # corners: the clip's backdrop
    shirt = np.array([55, 100, 190])
    for frame in frames[::10]:
        pixels = frame.astype(np.int16).reshape(-1, 1, 3)
        near_backdrop = (np.abs(pixels - backdrop[None]).sum(axis=2).min(axis=1) < 45).mean()
        near_shirt = (np.abs(pixels[:, 0] - shirt).sum(axis=1) < 60).mean()
        assert near_shirt > 0.02, near_shirt  # the subject is there
        assert near_backdrop < 0.002, near_backdrop  # and its clip's backdrop is not

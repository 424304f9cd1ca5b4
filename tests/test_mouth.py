"""Speakers who talk: the mouth opens and closes with the voice, on a real photograph and on a drawn face. Measured
on the rendered frames against the rendered sound, with the face found afresh in every frame, so that the body's
lift while talking does not count as talking."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import skimage

from r2v.director import Cast, direct
from r2v.engines.animatic import AnimaticEngine
from r2v.engines.animatic.cutout import cut_out, find_face
from r2v.engines.base import Asset, RenderJob
from r2v.media.probe import probe
from r2v.render.decode import read_image

pytestmark = pytest.mark.engine

# A real photograph (NASA, public domain) shipped inside the scikit-image wheel: nothing is downloaded.
ASTRONAUT = Path(skimage.__file__).parent / "data" / "astronaut.png"
W, H = 640, 360
LINE = "近景：图1说：“今天的阳光真好，我们一起去公园散步吧。”"
_FACES = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def _render_talking(tmp_path: Path, picture: Path, voice: Path) -> tuple[list[np.ndarray], np.ndarray, tuple]:
    """Frames, the speech level of the rendered sound per frame, and the line's frames (first, last)."""
    member = Asset(kind="image", path=picture, info=probe(picture, "p"), label="图1", voice=voice)
    board = direct(LINE, Cast.of([("图1", "image")]), 4)
    job = RenderJob(width=W, height=H, duration=4, seed=1, watermark=False, audio=True, assets=[member],
                    first_frame=None, prompt=LINE, storyboard=board)  # fmt: skip
    out = tmp_path / "talk.mp4"
    AnimaticEngine().render(job, out, lambda _: None)
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(out)) as container:
        sound = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(audio=0)])
    per_frame, total = 48000 // 30, 48000 // 30 * len(frames)
    sound = np.pad(sound[:total], (0, max(0, total - len(sound))))
    levels = np.sqrt((sound.reshape(len(frames), per_frame) ** 2).mean(axis=1))
    (line,) = board.lines
    return frames, levels, (round(line.start * 30), round(line.end * 30))


def _photo_face(frame: np.ndarray) -> tuple[int, int, int, int]:
    gray = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
    faces, support = _FACES.detectMultiScale2(gray, scaleFactor=1.05, minNeighbors=5, minSize=(40, 40))
    assert len(faces), "no face found in the frame"
    return tuple(int(v) for v in faces[int(np.argmax(support))])


def _drawn_face(frame: np.ndarray) -> tuple[int, int, int, int]:
    """The demo's drawn face: the skin-coloured (240, 200, 175) blob in the upper part of the frame, as a square
    (the head is round; the neck below it is not the face)."""
    skin = (np.abs(frame.astype(int) - (240, 200, 175)).sum(axis=2) < 15).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(skin[: H * 2 // 3], connectivity=8)
    assert count > 1, "no drawn face found"
    x, y, w, _, _ = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    return int(x), int(y), int(w), int(w)


def _band(gray: np.ndarray, face: tuple, rows: tuple[float, float], dx: int = 0, dy: int = 0) -> np.ndarray:
    """Rows of the face (fractions of its height), its middle half across, moved by (dx, dy)."""
    x, y, w, h = face
    return gray[y + dy + int(rows[0] * h) : y + dy + int(rows[1] * h), x + dx + w // 4 : x + dx + 3 * w // 4]


def _mouth_and_eyes_change(frames, face, rest, eyes_rows, mouth_rows) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, how much the mouth band and the eyes band differ from the silent frames `rest`, after aligning
    each frame on the eyes (template matching), so that the whole subject rising while it talks does not count."""
    grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
    template = np.mean([_band(grays[i], face, eyes_rows) for i in rest], axis=0).astype(np.float32)
    mouth_rest = np.mean([_band(grays[i], face, mouth_rows) for i in rest], axis=0)
    x, y, w, h = face
    top, left = y + int(eyes_rows[0] * h), x + w // 4
    margin = 20
    mouth_change, eyes_change = [], []
    for gray in grays:
        window = gray[
            top - margin : top + template.shape[0] + margin, left - margin : left + template.shape[1] + margin
        ]
        _, _, _, (mx, my) = cv2.minMaxLoc(cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED))
        dx, dy = mx - margin, my - margin
        eyes_change.append(np.abs(_band(gray, face, eyes_rows, dx, dy) - template).mean())
        mouth_change.append(np.abs(_band(gray, face, mouth_rows, dx, dy) - mouth_rest).mean())
    return np.array(mouth_change), np.array(eyes_change)


def _assert_the_mouth_follows_the_voice(mouth, eyes, levels, first, last) -> None:
    loud = [i for i in range(first, last) if levels[i] > np.percentile(levels[first:last], 60)]
    # While loud, the mouth is visibly open; the eyes of the same aligned face stay as they were.
    assert np.median(mouth[loud]) > 6, np.median(mouth[loud])
    assert np.median(mouth[loud]) > 4 * np.median(eyes[loud]) + 1, (np.median(mouth[loud]), np.median(eyes[loud]))
    # It follows the voice: more open where the voice is louder, and shut again once the line is over (as still
    # as the eyes then: the director may have cut to a new shot meanwhile, which the alignment matches less well).
    assert np.corrcoef(mouth[first:last], levels[first:last])[0, 1] > 0.4
    after = slice(last + 3, last + 15)
    assert np.median(mouth[after]) < np.median(eyes[after]) + 1.5, (mouth[after], eyes[after])


def test_a_photographed_face_opens_its_mouth_with_the_voice(tmp_path, assets):
    frames, levels, (first, last) = _render_talking(tmp_path, ASTRONAUT, assets["girl_voice"])
    rest = range(max(0, first - 8), first)  # just before the line: silent, mouth shut
    face = _photo_face(frames[rest[0]])
    mouth, eyes = _mouth_and_eyes_change(frames, face, rest, eyes_rows=(0.2, 0.5), mouth_rows=(0.68, 1.0))
    _assert_the_mouth_follows_the_voice(mouth, eyes, levels, first, last)


def test_a_drawn_face_opens_its_mouth_with_the_voice(tmp_path, assets):
    frames, levels, (first, last) = _render_talking(tmp_path, assets["girl"], assets["girl_voice"])
    rest = range(max(0, first - 8), first)
    face = _drawn_face(frames[rest[0]])  # from the hair line down: the eyes at about 0.16, the mouth at 0.39
    mouth, eyes = _mouth_and_eyes_change(frames, face, rest, eyes_rows=(0.05, 0.28), mouth_rows=(0.3, 0.7))
    _assert_the_mouth_follows_the_voice(mouth, eyes, levels, first, last)


@pytest.mark.parametrize(
    "name, where",
    [("astronaut", (222, 143)),  # her lips, in the photograph's pixels
     ("girl", (360, 355))],  # the drawn mouth: draw_person puts it 55 px below the head's centre (300)
)  # fmt: skip
def test_the_mouth_is_found_where_it_is(assets, name, where):
    picture = read_image(ASTRONAUT if name == "astronaut" else assets["girl"])
    cut = cut_out(picture)
    mouth = cut.mouth.moved(*cut.origin)  # back in the picture's pixels
    assert abs(mouth.x - where[0]) < 12 and abs(mouth.y - where[1]) < 8, mouth


def test_the_face_the_most_detections_agree_on_wins_over_a_larger_weaker_one():
    """The astronaut photograph also holds a larger, weakly detected 'face' (the model shuttle behind her)."""
    x, y, w, h = find_face(read_image(ASTRONAUT))
    assert x < 222 < x + w and y < 115 < y + h


@pytest.mark.parametrize("name", ["guitar", "sunflowers", "room"])
def test_objects_have_no_mouth(assets, name):
    assert cut_out(read_image(assets[name])).mouth is None

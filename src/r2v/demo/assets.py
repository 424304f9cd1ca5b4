"""Reference media drawn and synthesised here, so that the demo and the tests need nothing from the network:
two characters (an image and a video with its own sound), two props, a background, and two voices."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

RATE = 48000


def _canvas(width: int, height: int, top: tuple, bottom: tuple) -> np.ndarray:
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    grad = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
    return np.repeat(grad, width, axis=1).astype(np.uint8)


def draw_person(width: int, height: int, *, skin, hair, shirt, background=((235, 225, 210), (200, 190, 175)),
                arm_angle: float = 0.0, mouth_open: float = 0.0, long_hair: bool = False) -> np.ndarray:  # fmt: skip
    """A simple flat-shaded character, RGB."""
    img = _canvas(width, height, *background)
    cx, s = width // 2, height / 960
    head_y, head_r = int(300 * s), int(110 * s)
    body_top = head_y + head_r
    if long_hair:  # behind everything: it shows around the head and over the shoulders
        cv2.ellipse(img, (cx, int(head_y + 50 * s)), (int(135 * s), int(175 * s)), 0, 0, 360, hair, -1)
    # body and arms
    cv2.ellipse(img, (cx, int(body_top + 260 * s)), (int(150 * s), int(260 * s)), 0, 180, 360, shirt, -1)
    cv2.rectangle(img, (cx - int(150 * s), int(body_top + 255 * s)), (cx + int(150 * s), height), shirt, -1)
    shoulder = (cx + int(140 * s), int(body_top + 90 * s))
    angle = math.radians(-60 + arm_angle)
    hand = (int(shoulder[0] + 200 * s * math.cos(angle)), int(shoulder[1] + 200 * s * math.sin(angle)))
    cv2.line(img, shoulder, hand, shirt, int(46 * s))
    cv2.circle(img, hand, int(28 * s), skin, -1)
    cv2.line(
        img,
        (cx - int(140 * s), int(body_top + 90 * s)),
        (cx - int(190 * s), int(body_top + 330 * s)),
        shirt,
        int(46 * s),
    )
    # neck, head, hair, face
    cv2.rectangle(img, (cx - int(32 * s), head_y), (cx + int(32 * s), int(body_top + 30 * s)), skin, -1)
    cv2.circle(img, (cx, head_y), head_r, skin, -1)
    cv2.ellipse(img, (cx, head_y - int(30 * s)), (int(118 * s), int(95 * s)), 0, 180, 360, hair, -1)
    for dx in (-40, 40):
        cv2.circle(img, (cx + int(dx * s), head_y + int(5 * s)), int(12 * s), (40, 30, 30), -1)
        cv2.circle(img, (cx + int(dx * s) + 3, head_y + int(1 * s)), int(4 * s), (255, 255, 255), -1)
    mouth_h = max(2, int((6 + 22 * mouth_open) * s))
    cv2.ellipse(img, (cx, head_y + int(55 * s)), (int(30 * s), mouth_h), 0, 0, 180, (150, 40, 50), -1)
    return img


def draw_sunflowers(width: int = 640, height: int = 640) -> np.ndarray:
    img = _canvas(width, height, (250, 250, 245), (225, 230, 220))
    for i, (x, y) in enumerate(((0.35, 0.32), (0.62, 0.28), (0.5, 0.5))):
        c = (int(x * width), int(y * height))
        cv2.line(img, c, (width // 2, int(height * 0.92)), (60, 130, 50), 10)
        for k in range(16):
            a = 2 * math.pi * k / 16 + i
            p = (int(c[0] + 70 * math.cos(a)), int(c[1] + 70 * math.sin(a)))
            cv2.ellipse(img, p, (34, 14), math.degrees(a), 0, 360, (250, 200, 30), -1)
        cv2.circle(img, c, 45, (110, 70, 30), -1)
    cv2.ellipse(img, (width // 2, int(height * 0.85)), (90, 60), 0, 0, 360, (200, 80, 90), -1)
    return img


def draw_guitar(width: int = 480, height: int = 800) -> np.ndarray:
    img = _canvas(width, height, (245, 245, 250), (215, 215, 225))
    cx = width // 2
    cv2.rectangle(img, (cx - 18, 60), (cx + 18, 430), (90, 60, 35), -1)
    for y in range(100, 420, 40):
        cv2.line(img, (cx - 18, y), (cx + 18, y), (200, 200, 200), 2)
    cv2.rectangle(img, (cx - 30, 30), (cx + 30, 90), (60, 40, 25), -1)
    cv2.ellipse(img, (cx, 480), (120, 110), 0, 0, 360, (200, 120, 50), -1)
    cv2.ellipse(img, (cx, 640), (160, 140), 0, 0, 360, (200, 120, 50), -1)
    cv2.circle(img, (cx, 520), 45, (40, 25, 15), -1)
    for dx in (-9, -3, 3, 9):
        cv2.line(img, (cx + dx, 60), (cx + dx, 700), (230, 230, 230), 1)
    return img


def draw_room_with_chair(width: int = 1280, height: int = 720) -> np.ndarray:
    img = _canvas(width, height, (250, 235, 200), (230, 200, 160))
    cv2.rectangle(img, (0, int(height * 0.68)), (width, height), (150, 105, 70), -1)  # floor
    cv2.rectangle(
        img, (int(width * 0.08), int(height * 0.12)), (int(width * 0.34), int(height * 0.5)), (170, 215, 240), -1
    )
    cv2.rectangle(
        img, (int(width * 0.08), int(height * 0.12)), (int(width * 0.34), int(height * 0.5)), (255, 255, 255), 8
    )
    # chair
    x, y = int(width * 0.55), int(height * 0.42)
    cv2.rectangle(img, (x, y), (x + 20, y + 260), (110, 60, 30), -1)
    cv2.rectangle(img, (x, y + 150), (x + 170, y + 175), (130, 75, 40), -1)
    for lx in (x, x + 150):
        cv2.rectangle(img, (lx, y + 175), (lx + 20, y + 300), (110, 60, 30), -1)
    cv2.rectangle(img, (x, y), (x + 170, y + 30), (130, 75, 40), -1)
    # table
    tx = int(width * 0.75)
    cv2.rectangle(img, (tx, y + 120), (tx + 220, y + 145), (120, 80, 50), -1)
    cv2.rectangle(img, (tx + 100, y + 145), (tx + 120, y + 300), (100, 65, 40), -1)
    return img


def draw_storyboard(rows: int = 3, cols: int = 3, panel=(400, 225), gutter: int = 12) -> np.ndarray:
    """A storyboard grid: numbered panels of a simple scene, white gutters."""
    pw, ph = panel
    img = np.full((rows * ph + (rows + 1) * gutter, cols * pw + (cols + 1) * gutter, 3), 255, np.uint8)
    rng = np.random.default_rng(7)
    for r in range(rows):
        for c in range(cols):
            x, y = gutter + c * (pw + gutter), gutter + r * (ph + gutter)
            top = tuple(int(v) for v in rng.integers(40, 200, 3))
            img[y : y + ph, x : x + pw] = _canvas(pw, ph, top, (30, 90, 40))
            cv2.circle(img, (x + int(pw * rng.uniform(0.3, 0.7)), y + ph // 2), ph // 5, (240, 200, 80), -1)
            cv2.putText(img, str(r * cols + c + 1), (x + 10, y + 34), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 2)
    return img


def voice(text: str, f0: float, seconds: float) -> np.ndarray:
    """A person saying `text` (Mandarin) at the pitch f0, `seconds` long: eSpeak NG re-spoken by the WORLD vocoder,
    the same way the voices of a render are made. Mono float32 at 48 kHz, peak 0.5."""
    from scipy.signal import resample_poly

    from r2v.voice.timbre import WORLD_RATE, VoiceProfile, respeak
    from r2v.voice.tts import EspeakSynth

    ((samples, rate),) = EspeakSynth().speak_lines([(text, "zh")])
    spoken = respeak(samples, rate, VoiceProfile(f0=f0), seconds)
    out = resample_poly(spoken, RATE // WORLD_RATE, 1).astype(np.float32)
    return (out * (0.5 / 0.9)).astype(np.float32)


def write_video(path: Path, frames: list[np.ndarray], audio: np.ndarray | None, fps: int = 30) -> Path:
    """An H.264 MP4 (with AAC sound when audio is given) from RGB frames."""
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "threads": "1"}
        as_ = out.add_stream("aac", rate=RATE, layout="mono") if audio is not None else None
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            for start in range(0, len(audio), 1024):
                chunk = audio[start : start + 1024].astype(np.float32)[None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate = RATE
                frame.pts = start
                for packet in as_.encode(frame):
                    out.mux(packet)
            for packet in as_.encode():
                out.mux(packet)
    return path


def person_video(path: Path, seconds: float = 3.0, with_sound: bool = True, size=(480, 640)) -> Path:
    """A waving, talking character; its own sound is a voice (so it can lend its timbre)."""
    width, height = size
    sound = voice("你好，我是小明，我在弹吉他。", 140.0, seconds) if with_sound else None
    frames = []
    for i in range(int(seconds * 30)):
        mouth = 0.0
        if sound is not None:
            window = sound[int(i / 30 * RATE) : int((i + 1) / 30 * RATE)]
            mouth = min(1.0, float(np.sqrt(np.mean(window**2))) * 5) if len(window) else 0.0
        frames.append(
            draw_person(
                width,
                height,
                skin=(225, 180, 150),
                hair=(50, 35, 25),
                shirt=(60, 110, 200),
                arm_angle=35 * math.sin(i / 5),
                mouth_open=mouth,
            )  # fmt: skip
        )
    return write_video(path, frames, sound)


def make_guide_assets(folder: Path) -> dict[str, Path]:
    """The five references and two voices of the user guide's multi-subject example (图1 girl, 视频1 boy,
    图2 sunflowers, 图3 guitar, 图4 a room with a chair), plus a first frame and a storyboard-like image."""
    folder.mkdir(parents=True, exist_ok=True)
    girl = draw_person(720, 960, skin=(240, 200, 175), hair=(120, 60, 30), shirt=(220, 90, 120), long_hair=True)
    files = {
        "girl": write_png(folder / "girl.png", girl),
        "boy_video": person_video(folder / "boy.mp4"),
        "sunflowers": write_png(folder / "sunflowers.png", draw_sunflowers()),
        "guitar": write_png(folder / "guitar.png", draw_guitar()),
        "room": write_png(folder / "room.png", draw_room_with_chair()),
        "girl_voice": write_wav(folder / "girl-voice.wav", voice("今天天气真好，我们去看花吧。", 230.0, 2.5)),
        "boy_voice": write_wav(folder / "boy-voice.wav", voice("我会弹吉他，也会唱歌。", 125.0, 2.5)),
    }
    planet = _canvas(1280, 960, (10, 10, 40), (30, 30, 90))
    cv2.circle(planet, (640, 700), 420, (40, 90, 200), -1)
    files["first_frame"] = write_png(folder / "first-frame.png", planet)
    files["storyboard"] = write_png(folder / "storyboard.png", draw_storyboard())
    return files


def write_png(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def write_wav(path: Path, mono: np.ndarray) -> Path:
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray((mono[None, :] * 32767).astype(np.int16), format="s16", layout="mono")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path

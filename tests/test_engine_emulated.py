"""The emulated engine (behind `r2v serve --emulate`) keeps the spec exactly: size, frame count, 30 fps, an audio
stream only when asked, the watermark only when asked; the same job gives the same bytes; it stops when canceled;
and it never opens a reference (in the emulator they are URLs nobody downloaded)."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from r2v.engines import get_engine
from r2v.engines.base import Asset, RenderCancelled, RenderJob
from r2v.engines.emulated import EmulatedEngine
from r2v.media.info import MediaInfo
from r2v.render import watermark
from r2v.render.encoder import AAC_FRAME, AUDIO_RATE

pytestmark = pytest.mark.engine

W, H = 640, 360  # small, so that the tests that do not check a size render quickly


def _job(**overrides) -> RenderJob:
    fields = dict(width=W, height=H, duration=1, seed=1, watermark=False, audio=False, assets=[], prompt="a cat")
    return RenderJob(**{**fields, **overrides})


def _render(tmp_path: Path, job: RenderJob, name: str = "out.mp4", progress=None) -> Path:
    out = tmp_path / name
    result = EmulatedEngine().render(job, out, progress or (lambda _: None))
    assert result.frames == job.frames
    return out


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.mark.parametrize(("width", "height", "duration"), [(1280, 720, 2), (1080, 1920, 5)])
def test_size_frame_count_and_rate_are_exact(tmp_path, width, height, duration):
    out = _render(tmp_path, _job(width=width, height=height, duration=duration, audio=True, watermark=True))
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (width, height)
        assert stream.average_rate == Fraction(30)
        assert sum(1 for _ in c.decode(video=0)) == duration * 30


def test_the_picture_moves(tmp_path):
    frames = _frames(_render(tmp_path, _job()))
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 100


@pytest.mark.parametrize("duration", [1, 3])
def test_audio_stream_is_there_with_audio_and_lasts_the_duration(tmp_path, duration):
    out = _render(tmp_path, _job(audio=True, duration=duration))
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1
        stream = c.streams.audio[0]
        assert (stream.codec_context.name, stream.codec_context.channels, stream.rate) == ("aac", 2, AUDIO_RATE)
        sound = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    assert abs(sound.shape[1] - duration * AUDIO_RATE) <= AAC_FRAME
    # Not silence: the pip at the start of each second is there (-30 dBFS peaks at ~0.03).
    assert 0.01 < np.abs(sound).max() < 0.1


def test_no_audio_stream_without_audio(tmp_path):
    with av.open(str(_render(tmp_path, _job(audio=False)))) as c:
        assert len(c.streams.audio) == 0
        assert len(c.streams.video) == 1


def test_watermark_only_when_asked_and_only_bottom_right(tmp_path):
    marked = _frames(_render(tmp_path, _job(watermark=True), "marked.mp4"))
    plain = _frames(_render(tmp_path, _job(watermark=False), "plain.mp4"))
    x, y, w, h = watermark.box(W, H)
    for a, b in ((marked[0], plain[0]), (marked[-1], plain[-1])):
        a, b = a.astype(int), b.astype(int)
        assert np.abs(a[y : y + h, x : x + w] - b[y : y + h, x : x + w]).mean() > 10
        # The top-left (label, counter, bar) is the same picture; allow the encoder's rounding.
        assert np.abs(a[: H // 2, : W // 2] - b[: H // 2, : W // 2]).mean() < 1


def test_same_job_gives_the_same_bytes(tmp_path):
    job = _job(audio=True, watermark=True, prompt="两个人在雨中 talking", seed=42)
    first = _render(tmp_path, job, "a.mp4").read_bytes()
    assert _render(tmp_path, job, "b.mp4").read_bytes() == first


_RENDER_IN_A_PROCESS = """
import sys
from pathlib import Path
from r2v.engines.base import RenderJob
from r2v.engines.emulated import EmulatedEngine
job = RenderJob(width=320, height=240, duration=1, seed=9, watermark=True, audio=True, assets=[], prompt="雨 rain")
EmulatedEngine().render(job, Path(sys.argv[1]), lambda _: None)
"""


def test_same_bytes_across_processes(tmp_path):
    """The emulator restarts between CI runs: nothing may hang on a per-process value such as str hash()."""
    runs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"hash{hash_seed}.mp4"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        runs.append((out, subprocess.Popen([sys.executable, "-c", _RENDER_IN_A_PROCESS, str(out)], env=env)))
    for _, process in runs:
        assert process.wait(timeout=120) == 0
    assert runs[0][0].read_bytes() == runs[1][0].read_bytes()


@pytest.mark.parametrize("change", [{"seed": 2}, {"prompt": "a dog"}])
def test_a_different_seed_or_prompt_gives_a_different_picture(tmp_path, change):
    a = _frames(_render(tmp_path, _job(), "a.mp4"))[0].astype(int)
    b = _frames(_render(tmp_path, _job(**change), "b.mp4"))[0].astype(int)
    # Visibly different: the background colour itself (a corner far from any text) changes.
    assert np.abs(a[-4:, :4].mean(axis=(0, 1)) - b[-4:, :4].mean(axis=(0, 1))).max() > 3


def test_cancel_stops_the_render(tmp_path):
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 1  # canceled after the first half second

    with pytest.raises(RenderCancelled):
        _render(tmp_path, _job(duration=2, cancelled=cancelled))
    assert len(calls) == 2
    with pytest.raises(RenderCancelled):
        _render(tmp_path, _job(cancelled=lambda: True), "now.mp4")


def test_progress_rises_to_one(tmp_path):
    seen: list[float] = []
    _render(tmp_path, _job(duration=2), progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 4


def test_references_are_never_opened(tmp_path):
    missing = tmp_path / "never-downloaded.png"
    info = MediaInfo(format="png", size_bytes=1234, width=640, height=480)
    ref = Asset(kind="image", path=missing, info=info, label="图1", voice=tmp_path / "no-voice.wav")
    job = _job(assets=[ref], first_frame=tmp_path / "no-first-frame.png", audio=True, prompt="图1 waves")
    assert len(_frames(_render(tmp_path, job))) == 30
    assert not missing.exists()


def test_registered_by_name():
    assert isinstance(get_engine("emulated"), EmulatedEngine)

"""The reel engine reads back right: every reference shown in its segment, reference videos moving, the first
frame first, the watermark where it belongs, and the same bytes for the
same job."""

from __future__ import annotations

import hashlib

import av
import cv2
import numpy as np
import pytest

from r2v.engines.base import Asset, RenderJob
from r2v.engines.reel import ReelEngine
from r2v.media.probe import probe
from r2v.render import watermark
from r2v.render.decode import read_image, video_frames
from r2v.storage.blobs import result_blob
from tests.helpers import assert_spec_video

W, H = 320, 240


def _asset(assets, name, kind, label, voice=None):
    path = assets[name]
    return Asset(kind=kind, path=path, info=probe(path, name), label=label, voice=voice)


def _render(tmp_path, job, name="out.mp4"):
    out = tmp_path / name
    result = ReelEngine().render(job, out, lambda _: None)
    return out, result


def _frames(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _sound(path):
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)[0]


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two grey images at a common small size."""
    a = cv2.resize(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), (64, 48)).astype(np.float32).ravel()
    b = cv2.resize(cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), (64, 48)).astype(np.float32).ravel()
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-6))


def _placed(frame: np.ndarray, picture: np.ndarray, fill: float) -> np.ndarray:
    """The crop of the frame where the reel places a picture (centred, fit within fill x frame)."""
    h, w = picture.shape[:2]
    scale = min(W * fill / w, H * fill / h)
    nw, nh = round(w * scale), round(h * scale)
    y, x = (H - nh) // 2, (W - nw) // 2
    return frame[y : y + nh, x : x + nw]


@pytest.mark.engine
def test_every_reference_is_shown_in_its_segment(assets, tmp_path):
    refs = [_asset(assets, "girl", "image", "图1"), _asset(assets, "guitar", "image", "图2"),
            _asset(assets, "boy_video", "video", "视频1"), _asset(assets, "room", "image", "图3")]  # fmt: skip
    job = RenderJob(width=W, height=H, duration=4, seed=1, watermark=False, audio=True, assets=refs)
    out, result = _render(tmp_path, job)
    frames = _frames(out)
    assert len(frames) == 120
    assert [label for _, _, label in result.timeline] == ["图1", "图2", "视频1", "图3"]
    pictures = {a.label: read_image(a.path) if a.kind == "image" else next(video_frames(a.path, 1, 640)) for a in refs}
    for start, _end, label in result.timeline:
        frame = frames[int(start * 30) + 12]  # early in the segment, past the dissolve, before the camera moves far
        scores = {other: _similarity(_placed(frame, pic, 0.9), pic) for other, pic in pictures.items()}
        assert max(scores, key=scores.get) == label, (label, scores)
        assert scores[label] > 0.8


@pytest.mark.engine
def test_reference_video_plays_its_own_frames(assets, tmp_path):
    job = RenderJob(width=W, height=H, duration=2, seed=1, watermark=False, audio=False,
                    assets=[_asset(assets, "boy_video", "video", "视频1")])  # fmt: skip
    out, _ = _render(tmp_path, job)
    frames = _frames(out)
    source = list(video_frames(assets["boy_video"], 60, 640))
    # the output follows the source frame by frame (not a still): each frame is closest to its own source frame
    for i in (10, 25, 40, 55):
        crop = _placed(frames[i], source[i], 0.94)
        own = _similarity(crop, source[i])
        assert own > 0.9
        assert own > _similarity(crop, source[(i + 15) % 60]) + 0.01
    assert np.mean(np.abs(frames[10].astype(int) - frames[25].astype(int))) > 1.0


@pytest.mark.engine
def test_first_frame_is_frame_zero_and_size_kept(assets, tmp_path):
    job = RenderJob(width=W, height=H, duration=2, seed=3, watermark=False, audio=True,
                    assets=[_asset(assets, "girl", "image", "图1")], first_frame=assets["first_frame"])  # fmt: skip
    out, result = _render(tmp_path, job)
    assert result.timeline[0][2] == "first_frame" and result.timeline[0][1] >= 1.0
    frame0 = _frames(out)[0].astype(np.float32)
    first = read_image(assets["first_frame"])  # 1280x960 -> cover-fit into 320x240 (same 4:3 aspect)
    expected = cv2.resize(first, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32)
    assert np.mean(np.abs(frame0 - expected)) < 4.0


@pytest.mark.engine
def test_silent_when_audio_is_off(assets, tmp_path):
    job = RenderJob(width=W, height=H, duration=2, seed=1, watermark=False, audio=False,
                    assets=[_asset(assets, "girl", "image", "图1", voice=assets["girl_voice"])])  # fmt: skip
    out, _ = _render(tmp_path, job)
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 0


@pytest.mark.engine
def test_watermark_bottom_right(assets, tmp_path):
    def job(mark):
        return RenderJob(width=640, height=360, duration=2, seed=9, watermark=mark, audio=False,
                         assets=[_asset(assets, "room", "image", "图1")])  # fmt: skip

    marked = _frames(_render(tmp_path, job(True), "a.mp4")[0])[30].astype(int)
    plain = _frames(_render(tmp_path, job(False), "b.mp4")[0])[30].astype(int)
    x, y, w, h = watermark.box(640, 360)
    assert x > 640 * 0.6 and y > 360 * 0.7  # bottom-right
    inside = np.abs(marked[y : y + h, x : x + w] - plain[y : y + h, x : x + w]).mean()
    outside = np.abs(marked[: y - 20, : x - 20] - plain[: y - 20, : x - 20]).mean()
    assert inside > 20 and outside < 1.5


@pytest.mark.engine
def test_same_job_same_bytes(assets, tmp_path):
    def job(seed):
        return RenderJob(width=W, height=H, duration=2, seed=seed, watermark=True, audio=True,
                         assets=[_asset(assets, "girl", "image", "图1", voice=assets["girl_voice"]),
                                 _asset(assets, "boy_video", "video", "视频1", voice=assets["boy_video"])])  # fmt: skip

    digest = [hashlib.sha256(_render(tmp_path, job(s), f"{i}.mp4")[0].read_bytes()).hexdigest()
              for i, s in enumerate((7, 7, 8))]  # fmt: skip
    assert digest[0] == digest[1]
    assert digest[0] != digest[2]


@pytest.mark.engine
@pytest.mark.parametrize("size", [(1280, 720), (832, 1104), (1088, 832)])
def test_spec_sizes(assets, tmp_path, size):
    job = RenderJob(width=size[0], height=size[1], duration=2, seed=1, watermark=True, audio=True,
                    assets=[_asset(assets, "guitar", "image", "图1")])  # fmt: skip
    out, _ = _render(tmp_path, job)
    assert_spec_video(out, *size, 2, audio=True)


# -- choosing the engine: --engine, R2V_ENGINE, R2V_ENGINES ------------------------------------------------------


def _reel_framing(frame: np.ndarray, picture: np.ndarray) -> float:
    """How closely the frame shows `picture` the reel's way: whole and centred at 90% of the frame (it is frame 0
    of a segment, before the camera moves). The animatic engine cuts the subject out and stages it instead."""
    fh, fw = frame.shape[:2]
    h, w = picture.shape[:2]
    scale = min(fw * 0.9 / w, fh * 0.9 / h)
    nw, nh = round(w * scale), round(h * scale)
    y, x = (fh - nh) // 2, (fw - nw) // 2
    return _similarity(frame[y : y + nh, x : x + nw], picture)


def _first_frame(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


def _bodies(url: str) -> dict[str, dict]:
    return {"wan2.6-r2v": {"model": "wan2.6-r2v", "input": {"prompt": "character1", "reference_urls": [url]},
                           "parameters": {"size": "1280*720", "duration": 2}},
            "wan2.7-r2v": {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
                {"type": "reference_image", "url": url}]}, "parameters": {"resolution": "720P", "duration": 2}}}  # fmt: skip


@pytest.mark.server
def test_engine_flag_and_per_model_variable_through_a_server(media, assets, tmp_path):
    """`r2v serve --engine reel` renders every model with the reel engine, except the one R2V_ENGINES gives back
    to the animatic engine."""
    import httpx

    from tests.conftest import KEY
    from tests.helpers import ServerProcess, wait_status

    server = ServerProcess(tmp_path / "data", KEY, workers=2, extra_args=("--engine", "reel"),
                           env={"R2V_ENGINES": "wan2.7-r2v=animatic"}).start()  # fmt: skip
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    frames = {}
    try:
        created = {model: httpx.post(server.api + "/services/aigc/video-generation/video-synthesis", json=body,
                                     headers=headers).json()["output"]["task_id"]
                   for model, body in _bodies(media.url("girl.png")).items()}  # fmt: skip
        for model, task_id in created.items():
            output = wait_status(lambda task_id=task_id: httpx.get(f"{server.api}/tasks/{task_id}",
                                                                   headers=headers).json()["output"],
                                 {"SUCCEEDED", "FAILED"})  # fmt: skip
            assert output["task_status"] == "SUCCEEDED", output
            (tmp_path / f"{model}.mp4").write_bytes(httpx.get(output["video_url"]).content)
            frames[model] = _first_frame(tmp_path / f"{model}.mp4")
    finally:
        server.stop()
    girl = read_image(assets["girl"])
    assert _reel_framing(frames["wan2.6-r2v"], girl) > 0.95  # --engine reel
    assert _reel_framing(frames["wan2.7-r2v"], girl) < 0.8  # R2V_ENGINES: the animatic engine


@pytest.mark.engine
def test_the_engine_variable_sets_every_models_engine(media, assets, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from r2v.clock import FakeClock
    from r2v.config import Settings
    from r2v.wiring import build, build_app, runner_for
    from tests.conftest import KEY

    monkeypatch.setenv("R2V_ENGINE", "reel")
    monkeypatch.setenv("R2V_API_KEYS", KEY)
    monkeypatch.setenv("R2V_ALLOW_PRIVATE_URLS", "1")
    parts = build(Settings(data_dir=tmp_path / "data"), FakeClock())
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    client = TestClient(build_app(parts), base_url="http://r2v.test")
    body = _bodies(media.url("girl.png"))["wan2.7-r2v"]
    task_id = client.post("/api/v1/services/aigc/video-generation/video-synthesis", json=body,
                          headers=headers).json()["output"]["task_id"]  # fmt: skip
    runner_for(parts).run(parts.tasks.claim_next("w", parts.clock.now_ms(), None))
    output = client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()["output"]
    assert output["task_status"] == "SUCCEEDED", output
    result = tmp_path / "result.mp4"
    assert parts.blobs.fetch(result_blob(task_id, 1), result)
    assert _reel_framing(_first_frame(result), read_image(assets["girl"])) > 0.95


@pytest.mark.parametrize(
    "args, env, named",
    [(("--engine", "nope"), {}, "unknown engine 'nope'"),
     ((), {"R2V_ENGINE": "nope"}, "unknown engine 'nope'"),
     ((), {"R2V_ENGINES": "wan2.7-r2v=nope"}, "unknown engine 'nope' for wan2.7-r2v"),
     ((), {"R2V_ENGINES": "wan2.7r2v=reel"}, "R2V_ENGINES: 'wan2.7r2v=reel' is not MODEL=ENGINE")],
    ids=["flag", "R2V_ENGINE", "R2V_ENGINES", "unknown-model"],
)  # fmt: skip
@pytest.mark.server
def test_an_unknown_engine_stops_serve_naming_it(tmp_path, args, env, named):
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "r2v", "serve", "--data-dir", str(tmp_path / "d"), *args],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert named in done.stderr

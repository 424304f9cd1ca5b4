"""The wan engine on a tiny, randomly initialised Wan VACE folder built offline (`r2v wan make-tiny`), on the CPU:
the folder checks, loading from disk with the hub off, what reaches the pipeline (references, first frame, seeds),
progress, the spec-exact output, a pinned slice of output numbers, motion-compensated retiming, and a task through
the API and the official SDK with `r2v serve --engine wan`."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from http import HTTPStatus

import numpy as np
import pytest
import torch  # the wan extra: `make test` installs it

from r2v.director import Cast, direct  # noqa: E402
from r2v.engines.base import Asset, RenderJob  # noqa: E402
from r2v.engines.wan.engine import native_size  # noqa: E402
from r2v.engines.wan.options import WanOptions  # noqa: E402
from r2v.media.probe import probe  # noqa: E402
from r2v.render.decode import read_image  # noqa: E402
from r2v.render.geometry import cover  # noqa: E402
from r2v.render.retime import retime  # noqa: E402
from r2v.wan_folder import ModelFolderError, check_folder  # noqa: E402
from tests.conftest import KEY  # noqa: E402
from tests.helpers import ServerProcess, assert_spec_video, download, wait_status  # noqa: E402

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on a shared 2-core machine make small runs swing 20x
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wan") / "tiny"
    done = subprocess.run([sys.executable, "-m", "r2v", "wan", "make-tiny", str(folder)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return folder


class Recording:
    """The real pipeline, called through: it keeps the arguments of every call."""

    def __init__(self, pipeline):
        self.pipeline, self.calls = pipeline, []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return self.pipeline(**kwargs)

    def __getattr__(self, name):
        return getattr(self.pipeline, name)


def _engine(tiny, **options):
    from r2v.engines.wan import WanEngine

    options = {"model_dir": tiny, "steps": 2, "resolution": "64x64", "device": "cpu", **options}
    engine = WanEngine(WanOptions(**options))
    engine.warm_up()
    engine.pipeline = Recording(engine.pipeline)
    return engine


def _job(assets, prompt, members, duration, first_frame=None, audio=True, seed=7):
    assets_list = [Asset(kind, assets[name], probe(assets[name], name), label) for name, kind, label in members]
    board = direct(prompt, Cast.of([(a.label, a.kind) for a in assets_list]), duration,
                   first_frame=first_frame is not None)  # fmt: skip
    return RenderJob(width=1280, height=720, duration=duration, seed=seed, watermark=True, audio=audio,
                     assets=assets_list, first_frame=first_frame, prompt=prompt, storyboard=board)  # fmt: skip


def test_a_missing_or_wrong_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFolderError, match="needs a model folder"):
        check_folder(None)
    with pytest.raises(ModelFolderError, match="does not exist"):
        check_folder(tmp_path / "nope")
    with pytest.raises(ModelFolderError, match="no model_index.json"):
        check_folder(tmp_path)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ModelFolderError, match="not a WanVACEPipeline"):
        check_folder(tmp_path)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "WanVACEPipeline"}))
    with pytest.raises(ModelFolderError, match="lacks the part"):
        check_folder(tmp_path)


def test_serve_refuses_to_start_on_a_wrong_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "r2v", "serve", "--data-dir", str(tmp_path / "d"), "--engine",
                           "wan", "--wan-model-dir", str(tmp_path / "missing")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "wan model folder" in done.stderr and "does not exist" in done.stderr


class _HubRecorder(http.server.BaseHTTPRequestHandler):
    """A stand-in for the hub (HF_ENDPOINT): it answers 404 to everything and remembers every request."""

    seen: list[str] = []

    def _any(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = _any

    def log_message(self, *args) -> None:
        pass


# Run in a fresh interpreter: huggingface_hub reads HF_HUB_OFFLINE and HF_ENDPOINT when it is imported. It is
# imported first here, before load_pipeline, as anything else in a worker might have done.
_HUB_PROBE = """
import json, subprocess, sys
import huggingface_hub
from huggingface_hub import constants
from r2v.wan_folder import check_folder, load_pipeline

folder, cache, load = sys.argv[1], sys.argv[2], sys.argv[3] == "load"
before = constants.HF_HUB_OFFLINE
if load:
    pipeline = load_pipeline(check_folder(folder), "cpu", "float32")
    assert pipeline.transformer.config.num_layers == 3
try:
    huggingface_hub.hf_hub_download("r2v-test/not-there", "config.json", cache_dir=cache)
    lookup = "downloaded"
except Exception as exc:
    lookup = type(exc).__name__
child = subprocess.run([sys.executable, "-c", "import huggingface_hub.constants as c; print(c.HF_HUB_OFFLINE)"],
                       capture_output=True, text=True, check=True).stdout.strip()
print(json.dumps({"before": before, "offline": constants.HF_HUB_OFFLINE, "lookup": lookup, "child": child}))
"""


def test_the_folder_loads_from_disk_with_the_hub_off(tiny, tmp_path):
    """load_pipeline switches the hub off for the whole process: afterwards a hub lookup is refused without a
    request reaching HF_ENDPOINT (here a recording server), and the processes it starts are offline too. The same
    lookup without load_pipeline does reach the recorder, so the recorder would have seen one."""
    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HubRecorder)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_OFFLINE", "_PROXY", "_proxy"))}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{hub.server_address[1]}", HF_HOME=str(tmp_path / "hf"),
               OMP_NUM_THREADS="1")  # fmt: skip

    def probe(mode: str) -> dict:
        _HubRecorder.seen.clear()
        done = subprocess.run([sys.executable, "-c", _HUB_PROBE, str(tiny), str(tmp_path / "cache"), mode],
                              capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return {**json.loads(done.stdout.strip().splitlines()[-1]), "requests": list(_HubRecorder.seen)}

    try:
        online = probe("no-load")  # the control: nothing switched the hub off
        assert online["before"] is False and online["child"] == "False"
        assert online["lookup"] != "downloaded" and online["requests"], online  # it asked the recorder
        offline = probe("load")
    finally:
        hub.shutdown()
    assert offline["before"] is False  # online until load_pipeline ran ...
    assert offline["offline"] is True and offline["child"] == "True", offline  # ... offline after it
    assert offline["lookup"] in ("OfflineModeIsEnabled", "LocalEntryNotFoundError"), offline
    assert offline["requests"] == [], offline  # refused without a request


def test_shots_references_and_the_first_frame_reach_the_pipeline(tiny, assets, tmp_path):
    engine = _engine(tiny)
    job = _job(assets, "图1拿着图2。镜头推进，图1说：“你好。”", [("girl", "image", "图1"), ("sunflowers", "image", "图2")],
               3, first_frame=assets["first_frame"])  # fmt: skip
    steps: list[float] = []
    result = engine.render(job, tmp_path / "w.mp4", steps.append)
    calls = engine.pipeline.calls
    assert result.frames == 90 and len(calls) == len(job.storyboard.shots) == 2
    first, second = calls
    # shot 1 opens on the first frame: kept where the mask is black, generated where it is white
    width, height = native_size(1280, 720, "64x64")  # the model's size: 16:9 at about 64x64's area
    assert (first["width"], first["height"]) == (width, height) == (80, 48)
    expected = cover(read_image(assets["first_frame"]), width, height)
    assert np.abs(np.asarray(first["video"][0], np.float32) - expected).mean() < 2.0
    assert np.asarray(first["mask"][0]).max() == 0 and all(np.asarray(m).min() == 255 for m in first["mask"][1:])
    assert len(first["video"]) == len(first["mask"]) == first["num_frames"]
    assert second["video"] is None and second["mask"] is None
    # each shot's subjects as references, frames 4k+1 at 16 fps covering the shot, one seed per shot
    for call, shot in zip(calls, job.storyboard.shots, strict=True):
        assert len(call["reference_images"]) == len(shot.subjects)
        assert call["num_frames"] % 4 == 1 and call["num_frames"] >= (shot.end - shot.start) * 16
        assert (call["width"], call["height"], call["num_inference_steps"]) == (width, height, 2)
        expected, _ = engine.pipeline.encode_prompt(prompt=shot.text, do_classifier_free_guidance=False, device="cpu")
        assert torch.equal(call["prompt_embeds"], expected)  # the shot's own text
    assert calls[0]["generator"].initial_seed() != calls[1]["generator"].initial_seed()
    # progress rises to the end
    assert steps == sorted(steps) and steps[-1] == 1.0 and len(set(steps)) >= 4
    assert_spec_video(tmp_path / "w.mp4", 1280, 720, 3, audio=True)


def test_reference_videos_lend_a_frame_and_references_are_capped(tiny, assets, tmp_path):
    engine = _engine(tiny, max_references=2)
    members = [("girl", "image", "图1"), ("boy_video", "video", "视频1"), ("sunflowers", "image", "图2")]
    job = _job(assets, "图1、视频1和图2在一起。", members, 2, audio=False)
    engine.render(job, tmp_path / "r.mp4", lambda _: None)
    (call,) = engine.pipeline.calls
    assert len(call["reference_images"]) == 2  # three subjects, capped
    assert_spec_video(tmp_path / "r.mp4", 1280, 720, 2, audio=False)


def test_the_step_cache_skips_transformer_work(tiny, assets, tmp_path):
    """With the first-block cache on, some steps reuse the cached residual: the transformer's later blocks run
    fewer times than there are steps (counted on the real blocks)."""
    engine = _engine(tiny, cache="first-block", cache_threshold=10.0, steps=6)
    runs = []
    # the last block's feed-forward: it runs only when the block really runs (a skipped block is short-circuited)
    last_block = engine.pipeline.pipeline.transformer.blocks[-1]
    hook = last_block.ffn.register_forward_hook(lambda *_: runs.append(1))
    try:
        engine.render(_job(assets, "图1在跳舞。", [("girl", "image", "图1")], 1, audio=False), tmp_path / "c.mp4",
                      lambda _: None)  # fmt: skip
    finally:
        hook.remove()
    assert 0 < len(runs) < 6  # 6 steps, one (batched) pass each without the cache: some were skipped
    assert_spec_video(tmp_path / "c.mp4", 1280, 720, 1, audio=False)


def test_a_running_render_is_cancelled_through_the_interrupt_flag_and_the_model_stays(tiny, assets, tmp_path):
    from r2v.engines.base import RenderCancelled

    engine = _engine(tiny, steps=8)
    loaded = engine.pipeline.pipeline
    job = _job(assets, "图1在跳舞。", [("girl", "image", "图1")], 2, audio=False)
    runs = []
    hook = loaded.transformer.blocks[-1].ffn.register_forward_hook(lambda *_: runs.append(1))
    seen: list[float] = []
    job.cancelled = lambda: len(seen) >= 2  # canceled once two steps have been reported
    try:
        with pytest.raises(RenderCancelled):
            engine.render(job, tmp_path / "x.mp4", seen.append)
    finally:
        hook.remove()
    assert len(runs) == 2  # two steps ran (each one batched pass for both guidance branches), six did not
    job.cancelled = lambda: False
    engine.render(job, tmp_path / "y.mp4", lambda _: None)  # the same loaded pipeline renders the next job
    assert engine.pipeline.pipeline is loaded
    assert_spec_video(tmp_path / "y.mp4", 1280, 720, 2, audio=False)


def test_guidance_in_one_batched_pass_gives_the_same_frames_with_half_the_passes(tiny, assets, tmp_path):
    job = _job(assets, "图1在跳舞。", [("girl", "image", "图1")], 1, audio=False)
    clips, passes = {}, {}
    for batched in (False, True):
        engine = _engine(tiny, batched_guidance=batched, steps=3)
        inner = engine.pipeline.pipeline.transformer
        inner = getattr(inner, "inner", inner)
        count = []
        hook = inner.register_forward_hook(lambda *_, count=count: count.append(1))
        try:
            clips[batched] = engine._generate(engine.pipeline, job, job.storyboard, job.storyboard.shots[0],
                                              (80, 48), 1.0, lambda *_: None)  # fmt: skip
        finally:
            hook.remove()
        passes[batched] = len(count)
    assert passes == {False: 6, True: 3}  # 3 steps: two passes each, or one pass of a batch of two
    assert np.abs(clips[True].astype(int) - clips[False].astype(int)).max() <= 1  # the same frames


def test_a_two_expert_wan22_folder_uses_both_experts(tmp_path, assets):
    from r2v.engines.wan.tiny import make_tiny

    folder = make_tiny(tmp_path / "wan22", two_experts=True)
    assert check_folder(folder).two_experts
    engine = _engine(folder, steps=4)
    counts = {}
    hooks = [getattr(model, "inner", model).register_forward_hook(lambda *_, name=name: counts.update(
        {name: counts.get(name, 0) + 1})) for name, model in (("high", engine.pipeline.transformer),
                                                              ("low", engine.pipeline.transformer_2))]  # fmt: skip
    try:
        engine.render(_job(assets, "图1在跳舞。", [("girl", "image", "图1")], 1, audio=False), tmp_path / "e.mp4",
                      lambda _: None)  # fmt: skip
    finally:
        for hook in hooks:
            hook.remove()
    assert counts.get("high", 0) > 0 and counts.get("low", 0) > 0, counts  # high-noise steps, then low-noise ones
    assert_spec_video(tmp_path / "e.mp4", 1280, 720, 1, audio=False)


def test_same_job_same_video(tiny, assets, tmp_path):
    engine = _engine(tiny)
    job = _job(assets, "图1在跳舞。", [("girl", "image", "图1")], 2, audio=False)
    engine.render(job, tmp_path / "a.mp4", lambda _: None)
    engine.render(job, tmp_path / "b.mp4", lambda _: None)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_pinned_output_slice(tiny):
    """Guards against silent changes in the path from folder to numbers (loading, scheduler, seeding)."""
    from PIL import Image

    from r2v.wan_folder import load_pipeline

    pipeline = load_pipeline(check_folder(tiny), "cpu", "float32")
    pipeline.set_progress_bar_config(disable=True)
    reference = Image.fromarray(np.tile(np.arange(64, dtype=np.uint8)[:, None, None] * 4, (1, 64, 3)))
    out = pipeline(prompt="a girl walks", negative_prompt="blurry", reference_images=[reference], height=64,
                   width=64, num_frames=9, num_inference_steps=2, guidance_scale=5.0,
                   generator=torch.Generator("cpu").manual_seed(0), output_type="np").frames[0]  # fmt: skip
    assert out.shape == (9, 64, 64, 3)
    pinned = np.array(PINNED)
    assert np.allclose(out[0, :2, :3, 0], pinned, atol=1e-4), out[0, :2, :3, 0].tolist()


# torch 2.13.0 (CPU), diffusers 0.42.1, transformers 5.23.0: the versions `make test` installs here
PINNED = [[0.45257154, 0.45234695, 0.44922641], [0.44407943, 0.45350140, 0.45991969]]


def test_retiming_follows_the_motion():
    """A square moving 8 px per frame at 16 fps: at 30 fps every frame shows it once, where it would be at that
    instant (within 1.5 px), not repeated and not ghosted."""
    frames = []
    for i in range(9):
        frame = np.full((96, 160, 3), 30, np.uint8)
        x = 20 + 8 * i
        frame[40:56, x : x + 16] = 220
        frames.append(frame)
    out = list(retime(np.stack(frames), 16, 15))
    assert len(out) == 15
    for k, frame in enumerate(out):
        columns = np.nonzero(frame[48] > 125)[0]
        expected = 20 + 8 * (k * 16 / 30)
        assert abs(columns.min() - expected) <= 1.5, (k, columns.min(), expected)
        assert (frame[48] > 60).sum() - (frame[48] > 190).sum() <= 6  # no half-bright ghost of a second square


def test_a_task_through_the_api_with_the_wan_engine(tiny, media, tmp_path):
    """`r2v serve --engine wan` through the SDK; with R2V_CANCEL_RUNNING=1 a RUNNING render is canceled and the same
    worker process, never restarted, renders the next task with the model it loaded at startup."""
    import dashscope
    from dashscope import VideoSynthesis

    server = ServerProcess(tmp_path / "data", KEY, extra_args=(
        "--engine", "wan", "--wan-model-dir", str(tiny), "--wan-steps", "2"),  # the size: the folder's r2v.json
        env={"OMP_NUM_THREADS": "1", "R2V_WAN_DEVICE": "cpu", "R2V_CANCEL_RUNNING": "1"}).start()  # fmt: skip
    previous = dashscope.base_http_api_url
    dashscope.base_http_api_url = server.api
    media_list = [{"type": "reference_image", "url": media.url("girl.png")}]
    try:
        running = VideoSynthesis.async_call(api_key=KEY, model="wan2.7-r2v", media=media_list, resolution="720P",
                                            prompt="图1走进花园。图1坐下来。图1说：“你好。”图1站起来走开。",
                                            duration=10)  # fmt: skip
        wait_status(lambda: VideoSynthesis.fetch(running, api_key=KEY).output, {"RUNNING"})
        (worker,) = server.worker_pids()  # it loaded the model before it took the task
        assert VideoSynthesis.cancel(running, api_key=KEY).status_code == HTTPStatus.OK
        assert VideoSynthesis.wait(running, api_key=KEY).output.task_status == "CANCELED"
        rsp = VideoSynthesis.call(api_key=KEY, model="wan2.7-r2v", prompt="图1在花园里说：“你好。”",
                                  media=media_list, resolution="720P", duration=2)  # fmt: skip
        assert rsp.status_code == HTTPStatus.OK and rsp.output.task_status == "SUCCEEDED", rsp
        assert_spec_video(download(rsp.output.video_url, tmp_path / "api.mp4"), 1280, 720, 2, audio=True)
        assert server.worker_pids() == [worker]  # the same process, so the same loaded pipeline
    finally:
        dashscope.base_http_api_url = previous
        server.stop()

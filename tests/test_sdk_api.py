"""The rest of the SDK surface: both protocols, async_call/fetch/wait, the asyncio client, cancel, list, errors."""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus

import pytest

from tests.conftest import KEY, OTHER_KEY
from tests.helpers import ServerProcess, assert_spec_video, download, wait_status

pytestmark = pytest.mark.server


def _ref_image(media):
    return [{"type": "reference_image", "url": media.url("girl.png")}]


def test_wan26_reference_urls_with_size_and_shot_type(sdk, media, tmp_path):
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.call(
        api_key=KEY,
        model="wan2.6-r2v",
        prompt="character2 坐在椅子上弹吉他，Character1 走过来说：'听起来不错'",
        reference_urls=[media.url("boy.mp4"), media.url("guitar.png")],
        size="1280*720",
        shot_type="multi",
        duration=5,
    )
    assert rsp.status_code == HTTPStatus.OK and rsp.output.task_status == "SUCCEEDED", rsp
    assert "actual_prompt" not in rsp.output  # wan2.6 never returns it
    usage = rsp.usage
    assert usage["size"] == "1280*720" and "ratio" not in usage
    assert isinstance(usage["duration"], float)
    # wan2.6: N counts all references (2) -> each video capped at 2.5 s; the 3 s video bills 2.5 s.
    assert usage["input_video_duration"] == 2.5 and usage["duration"] == 7.5
    assert_spec_video(download(rsp.output.video_url, tmp_path / "w26.mp4"), 1280, 720, 5, audio=True)


def test_flash_without_audio_has_no_audio_stream(sdk, media, tmp_path):
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.call(
        api_key=KEY,
        model="wan2.6-r2v-flash",
        prompt="character1 在唱歌",
        reference_urls=[media.url("boy.mp4")],
        size="960*960",
        duration=2,
        audio=False,  # an unknown keyword argument of call(): the SDK puts it in `parameters`
    )
    assert rsp.status_code == HTTPStatus.OK and rsp.output.task_status == "SUCCEEDED", rsp
    assert_spec_video(download(rsp.output.video_url, tmp_path / "flash.mp4"), 960, 960, 2, audio=False)


def test_flash_with_audio_by_default(sdk, media, tmp_path):
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.call(
        api_key=KEY, model="wan2.6-r2v-flash", prompt="character1", reference_urls=[media.url("girl.png")],
        size="1088*832", duration=2,
    )  # fmt: skip
    assert rsp.output.task_status == "SUCCEEDED", rsp
    assert_spec_video(download(rsp.output.video_url, tmp_path / "flash2.mp4"), 1088, 832, 2, audio=True)


def test_async_call_fetch_wait_and_progress(sdk, media):
    from dashscope import VideoSynthesis

    created = VideoSynthesis.async_call(
        api_key=KEY, model="wan2.7-r2v", prompt="图1", media=_ref_image(media), resolution="720P", duration=4,
        prompt_extend=True,
    )  # fmt: skip
    assert created.status_code == HTTPStatus.OK
    assert created.output.task_status == "PENDING"
    task_id = created.output.task_id
    seen = set()
    progress = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        fetched = VideoSynthesis.fetch(task_id, api_key=KEY)
        seen.add(fetched.output.task_status)
        progress.append(fetched.output["progress"])
        if fetched.output.task_status == "SUCCEEDED":
            break
        time.sleep(0.05)
    assert progress == sorted(progress) and progress[-1] == 100
    done = VideoSynthesis.wait(created, api_key=KEY)
    assert done.output.task_status == "SUCCEEDED"
    assert done.output["submit_time"] <= done.output["scheduled_time"] <= done.output["end_time"]
    # wan2.7 with prompt_extend=true: the director's explicit shot script
    assert done.output["actual_prompt"].startswith("镜头1[0.0-")


def test_asyncio_client(sdk, media):
    from dashscope.aigc.video_synthesis import AioVideoSynthesis

    async def run():
        return await AioVideoSynthesis.call(
            api_key=KEY, model="wan2.7-r2v", prompt="图1在跳舞", media=_ref_image(media), resolution="720P",
            ratio="9:16", duration=2,
        )  # fmt: skip

    rsp = asyncio.run(run())
    assert rsp.status_code == HTTPStatus.OK, rsp
    assert rsp.output.task_status == "SUCCEEDED"
    assert rsp.usage["ratio"] == "9:16"


def test_unknown_ids_and_other_keys_tasks_are_unknown(sdk, media):
    from dashscope import VideoSynthesis

    assert VideoSynthesis.fetch("no-such-task", api_key=KEY).output.task_status == "UNKNOWN"
    created = VideoSynthesis.async_call(api_key=KEY, model="wan2.7-r2v", prompt="图1", media=_ref_image(media),
                                        resolution="720P", duration=2)  # fmt: skip
    other = VideoSynthesis.fetch(created.output.task_id, api_key=OTHER_KEY)
    assert other.status_code == HTTPStatus.OK and other.output.task_status == "UNKNOWN"
    assert VideoSynthesis.cancel(created.output.task_id, api_key=OTHER_KEY).status_code == 400
    VideoSynthesis.wait(created, api_key=KEY)


def test_list_with_filters(sdk, media):
    from dashscope import VideoSynthesis

    created = VideoSynthesis.async_call(api_key=OTHER_KEY, model="wan2.6-r2v", prompt="character1",
                                        reference_urls=[media.url("girl.png")], size="1280*720", duration=2)  # fmt: skip
    VideoSynthesis.wait(created, api_key=OTHER_KEY)
    listed = VideoSynthesis.list(api_key=OTHER_KEY, model_name="wan2.6-r2v", status="SUCCEEDED", page_size=5)
    assert listed.status_code == HTTPStatus.OK
    body = listed.output
    assert body["page_no"] == 1 and body["page_size"] == 5
    assert body["total"] >= 1 and body["total_page"] == -(-body["total"] // 5)
    ids = [row["task_id"] for row in body["data"]]
    assert created.output.task_id in ids
    row = body["data"][ids.index(created.output.task_id)]
    assert row["model_name"] == "wan2.6-r2v" and row["status"] == "SUCCEEDED"
    assert row["gmt_create"] <= row["start_time"] <= row["end_time"]
    assert row["user_api_unique_key"].endswith(":wan2.6-r2v")
    # only the caller's own tasks, and the filters apply
    assert all(r["model_name"] == "wan2.6-r2v" and r["status"] == "SUCCEEDED" for r in body["data"])
    mine = VideoSynthesis.list(api_key=KEY, model_name="wan2.6-r2v").output
    assert created.output.task_id not in [r["task_id"] for r in mine["data"]]
    none = VideoSynthesis.list(api_key=OTHER_KEY, status="CANCELED").output
    assert created.output.task_id not in [r["task_id"] for r in none["data"]]


def test_running_tasks_can_be_canceled_when_the_server_allows_it(tmp_path, media):
    """R2V_CANCEL_RUNNING=1 (an r2v extension): cancel stops a RUNNING task; the same worker process, never
    restarted (so it keeps whatever it has loaded), renders the next task."""
    import dashscope
    from dashscope import VideoSynthesis

    server = ServerProcess(tmp_path / "data", KEY, workers=1, env={"R2V_CANCEL_RUNNING": "1"}).start()
    try:
        dashscope.base_http_api_url = server.api
        long_task = dict(model="wan2.7-r2v", prompt="图1", media=_ref_image(media), resolution="1080P", duration=10)
        running = VideoSynthesis.async_call(api_key=KEY, **long_task)
        wait_status(lambda: VideoSynthesis.fetch(running, api_key=KEY).output, {"RUNNING"})
        (worker,) = server.worker_pids()  # the one render worker, rendering the task now
        assert VideoSynthesis.cancel(running, api_key=KEY).status_code == HTTPStatus.OK
        canceled = VideoSynthesis.wait(running, api_key=KEY).output
        assert canceled.task_status == "CANCELED" and "end_time" in canceled and not canceled.video_url
        short = VideoSynthesis.call(api_key=KEY, model="wan2.7-r2v", prompt="图1", media=_ref_image(media),
                                    resolution="720P", duration=2)  # fmt: skip
        assert short.output.task_status == "SUCCEEDED"
        assert server.worker_pids() == [worker]  # the same process: nothing was restarted
        assert "exited with" not in server.log_tail(100_000)  # the pool never saw a worker die
    finally:
        server.stop()
    assert not (tmp_path / "data" / "files" / "results" / f"{running.output.task_id}.mp4").exists()


def test_cancel_pending_and_running(tmp_path, media):
    """One worker: a long task runs while the next waits PENDING; only the PENDING one can be cancelled."""
    import dashscope
    from dashscope import VideoSynthesis

    server = ServerProcess(tmp_path / "data", KEY, workers=1).start()
    try:
        dashscope.base_http_api_url = server.api
        long_task = dict(model="wan2.7-r2v", prompt="图1", media=_ref_image(media), resolution="1080P", duration=10)
        running = VideoSynthesis.async_call(api_key=KEY, **long_task)
        waiting = VideoSynthesis.async_call(api_key=KEY, **long_task)
        wait_status(lambda: VideoSynthesis.fetch(running, api_key=KEY).output, {"RUNNING"})
        assert VideoSynthesis.fetch(waiting, api_key=KEY).output.task_status == "PENDING"

        refused = VideoSynthesis.cancel(running, api_key=KEY)
        assert refused.status_code == 400 and refused.code == "UnsupportedOperation"
        assert "PENDING" in refused.message

        accepted = VideoSynthesis.cancel(waiting, api_key=KEY)
        assert accepted.status_code == HTTPStatus.OK
        canceled = VideoSynthesis.wait(waiting, api_key=KEY)
        assert canceled.output.task_status == "CANCELED" and "end_time" in canceled.output
        assert VideoSynthesis.cancel(waiting, api_key=KEY).status_code == 400  # no longer PENDING
        assert VideoSynthesis.wait(running, api_key=KEY).output.task_status == "SUCCEEDED"
    finally:
        server.stop()


# -- errors, as the SDK reports them ------------------------------------------------------------------------


def _create(media_list, **params):
    from dashscope import VideoSynthesis

    return VideoSynthesis.async_call(api_key=KEY, model=params.pop("model", "wan2.7-r2v"),
                                     prompt=params.pop("prompt", "图1"), media=media_list, **params)  # fmt: skip


def test_wrong_and_empty_key(sdk, media):
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.async_call(api_key="sk-wrong", model="wan2.7-r2v", prompt="图1", media=_ref_image(media))
    assert (rsp.status_code, rsp.code, rsp.message) == (401, "InvalidApiKey", "Invalid API-key provided.")
    rsp = VideoSynthesis.async_call(api_key="", model="wan2.7-r2v", prompt="图1", media=_ref_image(media))
    assert (rsp.status_code, rsp.code, rsp.message) == (401, "InvalidApiKey", "No API-key provided.")
    listed = VideoSynthesis.list(api_key="sk-wrong")
    assert (listed.status_code, listed.code) == (401, "InvalidApiKey")
    assert VideoSynthesis.fetch("any", api_key="sk-wrong").status_code == 401


def test_call_raises_on_create_error(sdk, media):
    from dashscope import VideoSynthesis
    from dashscope.common.error import InvalidTask

    with pytest.raises(InvalidTask, match="Model not exist"):
        VideoSynthesis.call(api_key=KEY, model="wan9-r2v", prompt="x", media=_ref_image(media))


@pytest.mark.parametrize(
    "params, field",
    [
        ({"model": "wan2.5-r2v"}, "Model not exist."),
        ({"duration": 11}, "parameters.duration"),
        ({"duration": 1}, "parameters.duration"),
        ({"resolution": "4K"}, "parameters.resolution"),
        ({"ratio": "2:1"}, "parameters.ratio"),
        ({"seed": -1}, "parameters.seed"),
        ({"seed": 2147483648}, "parameters.seed"),
        ({"watermark": "yes"}, "parameters.watermark"),
        ({"prompt_extend": 1}, "parameters.prompt_extend"),
        ({"prompt": "图2拿着视频1"}, "input.prompt"),
        ({"prompt": "Image 1 hugs Video 1"}, "input.prompt"),
    ],
)
def test_static_errors_are_400_naming_the_field(sdk, media, params, field):
    rsp = _create(_ref_image(media), **params)
    assert rsp.status_code == 400 and rsp.code == "InvalidParameter"
    assert field in rsp.message


@pytest.mark.parametrize(
    "items, field",
    [
        ([], "input.media"),
        ([("first_frame", "girl.png")], "input.media"),
        ([("reference_image", "girl.png")] * 6, "input.media"),
        ([("first_frame", "girl.png"), ("first_frame", "girl.png"), ("reference_image", "girl.png")], "input.media"),
        ([("reference_voice", "girl.png")], "input.media[0].type"),
    ],
)
def test_count_rules(sdk, media, items, field):
    rsp = _create([{"type": t, "url": media.url(name)} for t, name in items])
    assert rsp.status_code == 400 and rsp.code == "InvalidParameter", rsp
    assert rsp.message.startswith(field)


def test_wan26_rules(sdk, media):
    from dashscope import VideoSynthesis

    def create(**kw):
        base = dict(api_key=KEY, model="wan2.6-r2v", prompt="character1", reference_urls=[media.url("girl.png")])
        return VideoSynthesis.async_call(**{**base, **kw})

    assert "parameters.size" in create(size="1280*721").message
    assert "parameters.shot_type" in create(shot_type="double").message
    assert "input.prompt" in create(prompt="character2 走来").message
    assert "input.reference_urls" in create(reference_urls=[media.url("girl.png")] * 6).message


def test_media_dependent_errors_fail_the_task(sdk, media):
    """What needs the media itself ends the task FAILED, with output.code/message naming the field."""
    from dashscope import VideoSynthesis

    cases = [
        ([{"type": "reference_image", "url": media.url("boy.mp4")}], "BadRequest.UnsupportedFileFormat", "input.media[0].url"),
        ([{"type": "reference_video", "url": media.url("girl.png")}], "BadRequest.UnsupportedFileFormat", "input.media[0].url"),
        ([{"type": "reference_image", "url": media.url("missing.png")}], "BadRequest.InputDownloadFailed", "input.media[0].url"),
        ([{"type": "reference_image", "url": media.url("girl.png"), "reference_voice": media.url("girl.png")}],
         "BadRequest.UnsupportedFileFormat", "input.media[0].reference_voice"),
    ]  # fmt: skip
    for media_list, code, field in cases:
        created = _create(media_list, prompt="a quiet scene")
        assert created.status_code == HTTPStatus.OK, created.message
        done = VideoSynthesis.wait(created, api_key=KEY)
        assert done.output.task_status == "FAILED", done
        assert done.output.code == code and done.output.message.startswith(field), done.output
        assert done.usage is None  # only SUCCEEDED tasks are billed

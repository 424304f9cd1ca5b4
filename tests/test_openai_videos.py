"""The OpenAI-style video API (/v1/videos), driven by the official `openai` package against a real `r2v serve`:
create_and_poll with an uploaded reference and with a reference URL, retrieve, list with paging, the three
download variants, remix, delete, field errors, a wrong key, the rate limit, the extension fields (raw multipart
and JSON), the same videos seen through the DashScope task API of the same key (and not of another), and
schemathesis over /v1/openapi.json."""

from __future__ import annotations

import io
import time

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import KEY, OTHER_KEY
from tests.helpers import ServerProcess, assert_spec_video, run_small_task

# The SDK marks its video methods deprecated (OpenAI's own service ends); the API shape is what r2v serves.
pytestmark = [pytest.mark.server, pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")]


def client(server, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=server.base + "/v1", max_retries=0, timeout=120)


def dashscope_task(server, task_id: str, key: str = KEY) -> dict:
    answer = httpx.get(f"{server.api}/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    return answer.json()["output"]


@pytest.fixture(scope="module")
def made(server, assets):
    """A 2 s 1280x720 video made from an uploaded reference picture (multipart input_reference)."""
    with open(assets["girl"], "rb") as picture:
        video = client(server).videos.create_and_poll(
            prompt="Image 1 waves at the camera", input_reference=picture, seconds="2", size="1280x720",
            extra_body={"seed": 7, "watermark": False},
        )  # fmt: skip
    assert video.status == "completed", video
    return video


def test_create_and_poll_with_an_uploaded_reference(server, made, tmp_path):
    assert made.object == "video" and made.model == "wan2.7-r2v"  # the default model
    assert (made.seconds, made.size, made.progress) == ("2", "1280x720", 100)
    assert made.prompt == "Image 1 waves at the camera" and made.error is None
    assert made.created_at <= made.completed_at < made.expires_at
    again = client(server).videos.retrieve(made.id)
    assert again.id == made.id and again.status == "completed"
    path = tmp_path / "made.mp4"
    client(server).videos.download_content(made.id).write_to_file(path)  # variant defaults to video
    assert_spec_video(path, 1280, 720, 2)


def test_thumbnail_and_spritesheet(server, made):
    videos = client(server).videos
    thumbnail = Image.open(io.BytesIO(videos.download_content(made.id, variant="thumbnail").read()))
    assert thumbnail.format == "WEBP" and thumbnail.size == (1280, 720)
    low, high = thumbnail.convert("L").getextrema()
    assert high - low > 40  # a frame of the picture, not a blank
    sheet = Image.open(io.BytesIO(videos.download_content(made.id, variant="spritesheet").read()))
    assert sheet.format == "JPEG"
    # a grid of 16:9 tiles, 5 across and 2 down
    tile_w, tile_h = sheet.width / 5, sheet.height / 2
    assert sheet.width == 5 * 256 and abs(tile_w / tile_h - 16 / 9) < 0.02
    full = videos.download_content(made.id, variant="video").read()
    assert full[4:8] == b"ftyp"


def test_create_from_a_reference_url_at_another_size(server, media, tmp_path):
    video = client(server).videos.create_and_poll(
        model="wan2.7-r2v", prompt="Image 1 stands still", extra_body={"input_reference": {"image_url": media.url("guitar.png")}},
        seconds="3", size="720x1280",
    )  # fmt: skip
    assert video.status == "completed", video
    assert (video.seconds, video.size) == ("3", "720x1280")
    path = tmp_path / "portrait.mp4"
    client(server).videos.download_content(video.id).write_to_file(path)
    assert_spec_video(path, 720, 1280, 3)


def test_an_uploaded_reference_video(server, assets):
    with open(assets["boy_video"], "rb") as clip:
        video = client(server).videos.create_and_poll(prompt="Video 1 says hello", input_reference=clip, seconds="2")
    assert video.status == "completed", video
    assert (video.seconds, video.size) == ("2", "1280x720")
    assert dashscope_task(server, video.id)["task_status"] == "SUCCEEDED"


def test_raw_multipart_with_extension_fields(server, assets, tmp_path):
    """Several input_reference parts, a first frame (4:3, so a 720P video is 1104x832) and a voice for reference
    1, as files; seed and watermark as form fields."""
    files = [
        ("input_reference", ("girl.png", assets["girl"].read_bytes(), "image/png")),
        ("input_reference", ("guitar.png", assets["guitar"].read_bytes(), "image/png")),
        ("first_frame", ("frame.png", assets["first_frame"].read_bytes(), "image/png")),
        ("reference_voice_1", ("voice.wav", assets["girl_voice"].read_bytes(), "audio/wav")),
    ]
    form = {"prompt": "Image 1 plays Image 2 and sings", "seconds": "2", "size": "1280x720", "seed": "5",
            "watermark": "true"}  # fmt: skip
    answer = httpx.post(server.base + "/v1/videos", data=form, files=files, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200, answer.text
    video = client(server).videos.poll(answer.json()["id"])
    assert video.status == "completed" and video.size == "1104x832", video
    path = tmp_path / "framed.mp4"
    client(server).videos.download_content(video.id).write_to_file(path)
    assert_spec_video(path, 1104, 832, 2)
    bad = httpx.post(server.base + "/v1/videos", data=form, files=[files[0], ("reference_voice_2", files[3][1])],
                     headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "reference_voice_2", bad.text


def test_json_body_with_image_and_video_urls(server, media):
    body = {"prompt": "Video 1 waves to Image 1", "seconds": 2, "size": "960x960",
            "input_reference": [{"image_url": media.url("girl.png")}, {"video_url": media.url("boy.mp4")}]}  # fmt: skip
    answer = httpx.post(server.base + "/v1/videos", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200, answer.text
    video = client(server).videos.poll(answer.json()["id"])
    assert (video.status, video.seconds, video.size) == ("completed", "2", "960x960"), video
    body["input_reference"] = [{"image_url": media.url("girl.png")}, {"file_id": "file-1"}]
    bad = httpx.post(server.base + "/v1/videos", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input_reference[1]", bad.text


def test_a_task_canceled_through_dashscope_reads_failed_canceled():
    from r2v.service.videos import video_object
    from r2v.tasks.model import Task, TaskStatus

    spec = '{"duration": 3, "width": 720, "height": 1280}'
    task = Task(task_id="t", owner="k", request_id="r", model="wan2.7-r2v", status=TaskStatus.CANCELED, submit_ms=5000,
                spec_json=spec, orig_prompt="Image 1", region="cn-beijing", end_ms=9000)  # fmt: skip
    video = video_object(task)
    assert (video["status"], video["error"]["code"], video["completed_at"]) == ("failed", "canceled", 9)
    assert (video["seconds"], video["size"], video["created_at"]) == ("3", "720x1280", 5)


def test_list_pages_with_after_and_order(server, made, media):
    # A key of its own, stored in the server's database (the server reads keys per request), so that its list holds
    # exactly these whatever other tests made with the server's two keys before.
    from tests.backends import components

    _, key = components(server.data_dir).keys.create("list-pages", 1000)
    c = client(server, key)
    ids = [c.videos.create(prompt=f"Image 1 number {n}", extra_body={"input_reference": {"image_url": media.url("girl.png")}},
                           seconds="2").id for n in range(3)]  # fmt: skip
    first = c.videos.list(limit=2)
    assert [v.id for v in first.data] == ids[::-1][:2] and first.has_more
    second = c.videos.list(limit=2, after=first.last_id)
    assert [v.id for v in second.data] == ids[:1] and not second.has_more
    assert [v.id for v in c.videos.list(limit=2, order="asc").data] == ids[:2]
    assert [v.id for v in c.videos.list(limit=2)] == ids[::-1]  # auto-paging follows last_id
    assert made.id not in [v.id for v in c.videos.list(limit=100)]  # the other key's video is not listed
    for video_id in ids:  # ended videos can be deleted (one in progress cannot)
        assert c.videos.poll(video_id, poll_interval_ms=200).status == "completed"
        c.videos.delete(video_id)


def test_remix_keeps_the_references_with_a_new_prompt(server, made):
    videos = client(server).videos
    remixed = videos.remix(made.id, prompt="Image 1 turns round")
    assert remixed.remixed_from_video_id == made.id and remixed.prompt == "Image 1 turns round"
    done = videos.poll(remixed.id)
    assert done.status == "completed" and (done.seconds, done.size) == ("2", "1280x720")
    with pytest.raises(openai.BadRequestError) as caught:
        videos.remix(made.id, prompt="Image 2 meets Image 1")  # the first video has one reference
    assert caught.value.body["param"] == "prompt"


def test_delete_of_a_queued_and_of_an_ended_video_but_not_of_one_in_progress(tmp_path, assets):
    """Deleting removes the task for both APIs. One worker, held by a video whose reference never downloads (a
    socket that accepts and never answers): that video stays in_progress and cannot be deleted; a second one stays
    queued and is deleted, never to be rendered; once the first has failed, it is deleted too."""
    import socket

    own = ServerProcess(tmp_path / "data", KEY, workers=1).start()
    silent = socket.create_server(("127.0.0.1", 0))  # the backlog accepts connections; nothing ever answers
    try:
        videos = client(own).videos
        stuck_url = f"http://127.0.0.1:{silent.getsockname()[1]}/girl.png"
        held = videos.create(prompt="Image 1", seconds="2", extra_body={"input_reference": {"image_url": stuck_url}})
        deadline = time.monotonic() + 60  # the one worker takes it at once; its download hangs until we close
        while videos.retrieve(held.id).status != "in_progress":
            assert time.monotonic() < deadline, "the first video never started"
            time.sleep(0.1)  # (under the 20 queries/s a key may make)
        with pytest.raises(openai.BadRequestError) as caught:
            videos.delete(held.id)
        assert caught.value.body["param"] == "video_id" and "in_progress" in caught.value.body["message"]
        with open(assets["girl"], "rb") as picture:
            queued = videos.create(prompt="Image 1", input_reference=picture, seconds="2")
        assert videos.retrieve(queued.id).status == "queued"
        deleted = videos.delete(queued.id)
        assert (deleted.id, deleted.deleted, deleted.object) == (queued.id, True, "video.deleted")
        for gone in (videos.retrieve, videos.download_content, videos.delete):
            with pytest.raises(openai.NotFoundError) as caught:
                gone(queued.id)
            assert caught.value.body["param"] == "video_id"
        assert queued.id not in [v.id for v in videos.list(limit=100)]
        assert dashscope_task(own, queued.id)["task_status"] == "UNKNOWN"  # gone for the DashScope API too
        silent.close()  # the download fails: the held video ends
        assert videos.poll(held.id, poll_interval_ms=200).status == "failed"
        assert videos.delete(held.id).deleted
        assert videos.list(limit=100).data == []  # and the queued one was never rendered: nothing came back
    finally:
        silent.close()
        own.stop()


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"seconds": "12"}, "seconds", "from 2 to 10"),
        ({"seconds": "2.5"}, "seconds", "whole number"),
        ({"size": "1024x1792"}, "size", "1920x1080"),  # the message lists the sizes r2v makes
        ({"model": "sora-2"}, "model", "wan2.7-r2v"),
        ({"prompt": "Image 2 waves"}, "prompt", "image 2"),
        ({"extra_body": {"seed": "abc"}}, "seed", "whole number"),
        ({"seconds": "²"}, "seconds", "whole number"),  # a digit to str.isdigit, not to int()
        ({"extra_body": {"seed": "³"}}, "seed", "whole number"),
    ],
)
def test_bad_fields_are_bad_requests_naming_the_field(server, media, fields, param, words):
    args = {
        "prompt": "Image 1",
        "extra_body": {"input_reference": {"image_url": media.url("girl.png")}, **fields.pop("extra_body", {})},
        **fields,
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).videos.create(**args)
    error = caught.value.body
    assert error["param"] == param and error["type"] == "invalid_request_error", error
    assert words.lower() in error["message"].lower(), error


def test_bodies_that_parse_badly_are_bad_requests_in_openai_s_envelope(server):
    """As the DashScope create refuses them: too deep, NaN, an unpaired surrogate, empty; and a superscript limit."""
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    for raw in ("[" * 5000 + "]" * 5000, '{"prompt": "Image 1", "seconds": NaN}', '{"prompt": "\\ud800"}', ""):
        answer = httpx.post(server.base + "/v1/videos", content=raw, headers=headers, timeout=30)
        assert answer.status_code == 400, (raw[:40], answer.text)
        assert answer.json()["error"]["param"] == "body" and answer.json()["error"]["type"] == "invalid_request_error"
    answer = httpx.get(server.base + "/v1/videos", params={"limit": "²"}, headers=headers, timeout=30)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "limit", answer.text


def test_no_reference_and_a_text_file_are_refused(server, tmp_path):
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).videos.create(prompt="a cat")
    assert caught.value.body["param"] == "input_reference"
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    with pytest.raises(openai.BadRequestError) as caught, open(text, "rb") as f:
        client(server).videos.create(prompt="Image 1", input_reference=f)
    assert caught.value.body["param"] == "input_reference"


def test_a_wrong_key_is_an_authentication_error(server, made):
    with pytest.raises(openai.AuthenticationError) as caught:
        client(server, "sk-wrong").videos.retrieve(made.id)
    assert caught.value.status_code == 401 and caught.value.body["code"] == "invalid_api_key"


def test_the_key_rate_limit_is_a_rate_limit_error(tmp_path):
    """The DashScope API's per-key limits hold here too, answered as OpenAI's 429."""
    limited = ServerProcess(tmp_path / "data", KEY, env={"R2V_RATE_LIMITS": "list=1"}).start()
    try:
        with pytest.raises(openai.RateLimitError) as caught:
            for _ in range(5):  # one list a second: a burst of five cannot all pass
                client(limited).videos.list()
        assert caught.value.status_code == 429 and caught.value.body["type"] == "rate_limit_exceeded"
    finally:
        limited.stop()


def test_the_same_videos_through_the_dashscope_api(server, made, media):
    # made through /v1/videos: the DashScope task of the same key, with its video; another key sees nothing
    output = dashscope_task(server, made.id)
    assert output["task_status"] == "SUCCEEDED" and output["orig_prompt"] == made.prompt and output["video_url"]
    assert dashscope_task(server, made.id, OTHER_KEY)["task_status"] == "UNKNOWN"
    with pytest.raises(openai.NotFoundError):
        client(server, OTHER_KEY).videos.retrieve(made.id)
    # made through the DashScope API: a video here, with its thumbnail
    task = run_small_task(server, media.url("girl.png"), KEY)
    video = client(server).videos.retrieve(task["task_id"])
    assert (video.status, video.seconds, video.size, video.prompt) == ("completed", "2", "1280x720", "图1")
    thumbnail = Image.open(io.BytesIO(client(server).videos.download_content(video.id, variant="thumbnail").read()))
    assert thumbnail.size == (1280, 720)
    with pytest.raises(openai.NotFoundError):
        client(server, OTHER_KEY).videos.download_content(video.id)
    # ... and remixed here with its DashScope references (a URL), seen there again
    remixed = client(server).videos.poll(client(server).videos.remix(video.id, prompt="图1 转身").id)
    assert remixed.status == "completed" and remixed.remixed_from_video_id == video.id
    assert dashscope_task(server, remixed.id)["orig_prompt"] == "图1 转身"


@pytest.fixture(scope="module")
def video_schema(server):
    import schemathesis

    return schemathesis.openapi.from_url(server.base + "/v1/openapi.json")


OPERATIONS = [("post", "/v1/videos"), ("get", "/v1/videos"), ("get", "/v1/videos/{video_id}"),
              ("delete", "/v1/videos/{video_id}"), ("get", "/v1/videos/{video_id}/content"),
              ("post", "/v1/videos/{video_id}/remix")]  # fmt: skip


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_live_server_answers_as_its_video_document_says(video_schema, method, path):
    """schemathesis drives each operation of /v1/openapi.json (valid and invalid requests): every status answered is
    listed, in the documented content type and schema (OpenAI's error envelope), no server error, and the key is
    required."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        ignored_auth,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
              ignored_auth]  # fmt: skip
    operation = video_schema[path][method.upper()]
    for mode in GenerationMode:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(derandomize=True, database=None, deadline=None, max_examples=15,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=checks)

        check()

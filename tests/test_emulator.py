"""`r2v serve --emulate` (issue 17), driven by the official SDKs as an app's own tests would drive it: dashscope's
VideoSynthesis for the DashScope task API and openai for /v1/videos. Every directive of X-R2V-Scenario, rules
(matching, counting, order, the header over a rule), the recorder, reset, the control endpoints (and their absence
on a normal server), the real validation, limits and billing under --emulate, and the spec-exact video it makes.

The emulator comes from the project's own pytest plugin (r2v.testing), imported here rather than named in
pytest_plugins (which pytest allows only in the top-level conftest): one emulator for the session, reset before
each test. Each test stays within the real limit of 5 creates a second per key (a reset refills it)."""

from __future__ import annotations

import base64
import io
import time
from datetime import datetime
from http import HTTPStatus
from pathlib import Path

import av
import httpx
import numpy as np
import openai
import pytest
from PIL import Image

from r2v.protocol import billing
from r2v.protocol.catalog import GEN_27
from r2v.render import watermark
from r2v.testing import Emulator, r2v_emulator, r2v_emulator_server  # noqa: F401 - the plugin's fixtures
from tests.conftest import KEY
from tests.helpers import assert_spec_video, download, wait_status

pytestmark = [pytest.mark.server, pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")]

# Remote inputs are never downloaded under --emulate: a picture is taken to be 1280x720, a video 5 s.
PICTURE = "https://cdn.example.com/girl.png"
CLIP = "https://cdn.example.com/boy.mp4"
TASKS = "/api/v1/tasks"
CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


@pytest.fixture
def emu(r2v_emulator: Emulator):  # noqa: F811 - the plugin's fixture, imported above
    """The session's emulator, reset, with the dashscope SDK pointed at it."""
    import dashscope

    previous = dashscope.base_http_api_url
    dashscope.base_http_api_url = r2v_emulator.base_url
    yield r2v_emulator
    dashscope.base_http_api_url = previous


def create(emu: Emulator, scenario: str | None = None, **overrides):
    """VideoSynthesis.async_call of a 2 s 720P wan2.7 task of one remote picture (overrides change any argument)."""
    from dashscope import VideoSynthesis

    args = dict(model="wan2.7-r2v", prompt="图1 waves", media=[{"type": "reference_image", "url": PICTURE}],
                resolution="720P", duration=2)  # fmt: skip
    args.update(overrides)
    if scenario is not None:
        args["headers"] = emu.scenario(scenario)
    return VideoSynthesis.async_call(api_key=emu.api_key, **args)


def created_id(rsp) -> str:
    assert rsp.status_code == HTTPStatus.OK, rsp
    return rsp.output.task_id


def fetch(emu: Emulator, task_id: str):
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.fetch(task_id, api_key=emu.api_key)
    assert rsp.status_code == HTTPStatus.OK, rsp
    return rsp.output


def until(emu: Emulator, task_id: str, *states: str) -> dict:
    """Poll (faster than VideoSynthesis.wait's 1 s) until the task is in one of `states`; its output."""
    return wait_status(lambda: fetch(emu, task_id), set(states), timeout=60)


def listed(emu: Emulator) -> list[str]:
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.list(api_key=emu.api_key, page_size=100)
    assert rsp.status_code == HTTPStatus.OK, rsp
    return [row["task_id"] for row in rsp.output["data"]]


def control(emu: Emulator, method: str, path: str, **kwargs) -> httpx.Response:
    """A call to /r2v/emulator/... with no API key, as the answer came (the plugin's helpers assert 200)."""
    return httpx.request(method, f"{emu.url}/r2v/emulator{path}", timeout=30, **kwargs)


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def png_data_uri(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def server_time_s(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").timestamp()


# -- the video and its bill --------------------------------------------------------------------------------------


def test_a_plain_task_succeeds_with_a_spec_exact_video_and_the_real_bill(emu, tmp_path):
    from dashscope import VideoSynthesis

    media = [{"type": "reference_video", "url": CLIP}, {"type": "reference_image", "url": PICTURE}]
    args = dict(api_key=emu.api_key, model="wan2.7-r2v", prompt="视频1 walks to 图1", media=media, resolution="720P",
                ratio="16:9", duration=2, seed=7, watermark=False)  # fmt: skip
    rsp = VideoSynthesis.call(**args)
    assert rsp.status_code == HTTPStatus.OK and rsp.output.task_status == "SUCCEEDED", rsp
    plain = download(rsp.output.video_url, tmp_path / "plain.mp4")
    assert_spec_video(plain, 1280, 720, 2, audio=True)
    # The real bill: the remote video is taken to last 5 s; with 2 references each video is capped at 2.5 s.
    expected = billing.usage(GEN_27, 2, 1280, 720, "720P", "16:9", [5.0], 2)
    assert {k: rsp.usage[k] for k in expected} == expected
    assert (rsp.usage["input_video_duration"], rsp.usage["duration"]) == (2.5, 4.5)

    again = VideoSynthesis.call(**args)
    assert again.output.task_id != rsp.output.task_id
    assert download(again.output.video_url, tmp_path / "again.mp4").read_bytes() == plain.read_bytes()

    marked = VideoSynthesis.call(**{**args, "watermark": True})
    assert marked.output.task_status == "SUCCEEDED", marked
    marked_frame = first_frame(download(marked.output.video_url, tmp_path / "marked.mp4"))
    plain_frame = first_frame(plain)
    x, y, w, h = watermark.box(1280, 720)
    assert (x > 640) and (y > 360)  # the mark's corner is bottom-right
    corner = np.abs(marked_frame[y : y + h, x : x + w].astype(int) - plain_frame[y : y + h, x : x + w]).mean()
    rest = np.abs(marked_frame[:360, :640].astype(int) - plain_frame[:360, :640]).mean()
    assert corner > 5 and rest < 1, (corner, rest)


def test_1080p_and_a_flash_task_without_audio(emu, tmp_path):
    from dashscope import VideoSynthesis

    big = VideoSynthesis.call(api_key=emu.api_key, model="wan2.7-r2v", prompt="图1", resolution="1080P", ratio="16:9",
                              media=[{"type": "reference_image", "url": PICTURE}], duration=2)  # fmt: skip
    assert big.output.task_status == "SUCCEEDED", big
    assert_spec_video(download(big.output.video_url, tmp_path / "big.mp4"), 1920, 1080, 2, audio=True)
    assert big.usage["SR"] == 1080

    flash = VideoSynthesis.call(api_key=emu.api_key, model="wan2.6-r2v-flash", prompt="character1 sings",
                                reference_urls=[PICTURE], size="1280*720", duration=2, audio=False)  # fmt: skip
    assert flash.output.task_status == "SUCCEEDED", flash
    assert_spec_video(download(flash.output.video_url, tmp_path / "flash.mp4"), 1280, 720, 2, audio=False)
    assert flash.usage["size"] == "1280*720" and flash.usage["input_video_duration"] == 0


# -- fail= ---------------------------------------------------------------------------------------------------------


def test_fail_ends_the_task_failed_with_the_code_and_the_cloud_message(emu):
    inspected = created_id(create(emu, "fail=DataInspectionFailed"))
    boom = created_id(create(emu, "fail=InternalError:boom"))
    out = until(emu, inspected, "SUCCEEDED", "FAILED")
    assert (out["task_status"], out["code"]) == ("FAILED", "DataInspectionFailed")
    assert out["message"] == "Input data may contain inappropriate content."
    out = until(emu, boom, "SUCCEEDED", "FAILED")
    assert (out["task_status"], out["code"], out["message"]) == ("FAILED", "InternalError", "boom")


# -- http= ---------------------------------------------------------------------------------------------------------


def test_http_429_on_create_answers_the_sdk_and_creates_nothing(emu):
    rsp = create(emu, "http=429:Throttling.RateQuota")
    assert (rsp.status_code, rsp.code) == (429, "Throttling.RateQuota")
    assert rsp.message == "Requests rate limit exceeded, please try again later."
    server_error = create(emu, "http=500")
    assert (server_error.status_code, server_error.code) == (500, "InternalError")
    assert listed(emu) == []


def test_503_on_queries_is_retried_by_the_sdks_wait(emu):
    """dashscope's wait() polls again on 503 and 504 (REPEATABLE_STATUS) after its 1 s sleep."""
    from dashscope import VideoSynthesis

    task_id = created_id(create(emu))
    rule = emu.add_rule("http=503", times=2, path=f"{TASKS}/*")
    assert (rule["times"], rule["used"], rule["remaining"]) == (2, 0, 2)
    done = VideoSynthesis.wait(task_id, api_key=emu.api_key, wait_timeout=30)
    assert done.status_code == HTTPStatus.OK and done.output.task_status == "SUCCEEDED", done
    polls = [r["status"] for r in emu.requests() if r["path"] == f"{TASKS}/{task_id}"]
    assert polls[:2] == [503, 503] and set(polls[2:]) == {200}, polls
    assert emu.rules() == []  # used up


# -- pending= and running= -------------------------------------------------------------------------------------------


def test_pending_holds_the_task_until_it_is_canceled(emu):
    from dashscope import VideoSynthesis

    task_id = created_id(create(emu, "pending=30"))
    time.sleep(0.5)
    assert fetch(emu, task_id)["task_status"] == "PENDING"
    canceled = VideoSynthesis.cancel(task_id, api_key=emu.api_key)
    assert canceled.status_code == HTTPStatus.OK, canceled
    assert fetch(emu, task_id)["task_status"] == "CANCELED"


def test_running_holds_the_task_with_its_progress_rising(emu):
    started = time.monotonic()
    task_id = created_id(create(emu, "running=3"))
    seen: list[tuple[str, int | None]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = fetch(emu, task_id)
        seen.append((out["task_status"], out.get("progress")))
        if out["task_status"] not in ("PENDING", "RUNNING"):
            break
        time.sleep(0.1)
    assert out["task_status"] == "SUCCEEDED", seen
    assert time.monotonic() - started >= 3
    assert server_time_s(out["end_time"]) - server_time_s(out["scheduled_time"]) >= 2.99
    running = [progress for status, progress in seen if status == "RUNNING"]
    assert running and all(isinstance(p, int) for p in running), seen
    progress = [p for _, p in seen if p is not None]
    assert progress == sorted(progress) and len(set(running)) > 1, seen  # never goes back; it does rise
    assert progress[-1] == 100


# -- expire ----------------------------------------------------------------------------------------------------------


def test_expire_on_create_makes_the_task_unknown_and_unlisted(emu):
    from dashscope import VideoSynthesis

    task_id = created_id(create(emu, "expire"))
    assert fetch(emu, task_id)["task_status"] == "UNKNOWN"
    assert VideoSynthesis.wait(task_id, api_key=emu.api_key, wait_timeout=30).output.task_status == "UNKNOWN"
    assert listed(emu) == []


def test_expire_on_a_query_refuses_the_url_got_before(emu):
    task_id = created_id(create(emu))
    url = until(emu, task_id, "SUCCEEDED")["video_url"]
    assert httpx.get(url).status_code == 200
    emu.add_rule("expire", times=1, path=f"{TASKS}/{task_id}")
    assert fetch(emu, task_id)["task_status"] == "UNKNOWN"
    refused = httpx.get(url)
    assert refused.status_code == 403 and "Request has expired." in refused.text, refused.text
    assert listed(emu) == []


# -- a scenario the emulator cannot read ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "named"),
    [("bogus=1", "'bogus'"), ("pending=abc", "pending"), ("http=200", "http"), ("fail", "fail")],
)
def test_a_scenario_it_cannot_read_is_a_400_naming_the_directive(emu, header, named):
    rsp = create(emu, header)
    assert (rsp.status_code, rsp.code) == (400, "InvalidParameter"), rsp
    assert rsp.message.startswith("X-R2V-Scenario: ") and named in rsp.message, rsp.message
    assert listed(emu) == []


# -- rules -----------------------------------------------------------------------------------------------------------


def test_rules_match_by_model_and_by_prompt(emu):
    emu.add_rule("fail=ModelCode", model="wan2.6-r2v-flash")
    emu.add_rule("fail=PromptCode", prompt_contains="explode")
    flash = created_id(create(emu, model="wan2.6-r2v-flash", prompt="character1", reference_urls=[PICTURE],
                              media=None, resolution=None, size="1280*720"))  # fmt: skip
    exploding = created_id(create(emu, prompt="图1 and the car explodes"))
    plain = created_id(create(emu, prompt="图1 stands still"))
    assert until(emu, flash, "SUCCEEDED", "FAILED")["code"] == "ModelCode"
    assert until(emu, exploding, "SUCCEEDED", "FAILED")["code"] == "PromptCode"
    assert until(emu, plain, "SUCCEEDED", "FAILED")["task_status"] == "SUCCEEDED"
    assert [r["used"] for r in emu.rules()] == [1, 1]  # no times: kept, and each counted once


def test_rules_match_by_exact_path_or_glob(emu):
    from dashscope import VideoSynthesis

    task_id = created_id(create(emu))
    emu.add_rule("http=500", path=TASKS)  # the list only, not /api/v1/tasks/{id}
    assert VideoSynthesis.list(api_key=emu.api_key).status_code == 500
    assert fetch(emu, task_id)["task_id"] == task_id
    emu.clear_rules()
    emu.add_rule("http=404", path=f"{TASKS}/*")
    gone = VideoSynthesis.fetch(task_id, api_key=emu.api_key)
    assert (gone.status_code, gone.code) == (404, "NotFound")
    assert listed(emu) == [task_id]


def test_a_rule_with_times_applies_that_many_times_then_is_gone(emu):
    rule = emu.add_rule("http=500", times=2, prompt_contains="counted")
    assert rule["match"] == {"prompt_contains": "counted"} and rule["scenario"] == "http=500"
    assert create(emu, prompt="图1 counted").status_code == 500
    [view] = emu.rules()
    assert (view["id"], view["used"], view["remaining"]) == (rule["id"], 1, 1)
    assert create(emu, prompt="图1 counted").status_code == 500
    assert emu.rules() == []
    created_id(create(emu, prompt="图1 counted"))  # the third one is created


def test_the_first_matching_rule_wins_and_rules_can_be_deleted(emu):
    first = emu.add_rule("fail=FirstCode", prompt_contains="cat")
    second = emu.add_rule("fail=SecondCode", model="wan2.7-r2v")
    task = created_id(create(emu, prompt="图1 a cat"))
    assert until(emu, task, "SUCCEEDED", "FAILED")["code"] == "FirstCode"
    assert [(r["id"], r["used"]) for r in emu.rules()] == [(first["id"], 1), (second["id"], 0)]

    assert control(emu, "DELETE", f"/rules/{first['id']}").json() == {"deleted": 1}
    missing = control(emu, "DELETE", f"/rules/{first['id']}")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    task = created_id(create(emu, prompt="图1 a cat"))
    assert until(emu, task, "SUCCEEDED", "FAILED")["code"] == "SecondCode"

    emu.add_rule("pending=1")
    assert control(emu, "DELETE", "/rules").json() == {"deleted": 2}
    assert control(emu, "GET", "/rules").json() == {"rules": []}


def test_the_header_is_laid_over_the_rule(emu):
    emu.add_rule("fail=RuleCode:the rule's words;running=1", prompt_contains="layered")
    task = created_id(create(emu, "fail=HeaderCode", prompt="图1 layered"))
    out = until(emu, task, "SUCCEEDED", "FAILED")
    # the header's code comes with its own (default) message, not the rule's; the rule's running= still holds
    assert (out["code"], out["message"]) == ("HeaderCode", "HeaderCode (injected by X-R2V-Scenario)")
    [recorded] = [r for r in emu.requests() if r["method"] == "POST"]
    assert recorded["scenario"] == "fail=HeaderCode;running=1"
    assert server_time_s(out["end_time"]) - server_time_s(out["scheduled_time"]) >= 0.99


def test_a_header_of_zero_seconds_overrides_the_rule(emu):
    """pending=0 is given, not absent (0.0 == False once made a header's zero lose to the rule's wait)."""
    emu.add_rule("pending=30")
    held = created_id(create(emu))
    quick = created_id(create(emu, "pending=0"))
    assert until(emu, quick, "SUCCEEDED", "FAILED")["task_status"] == "SUCCEEDED"
    assert fetch(emu, held)["task_status"] == "PENDING"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"match": {"xyz": "a"}, "scenario": "fail=X"}, "match.xyz"),
        ({"match": {"model": ""}, "scenario": "fail=X"}, "match.model"),
        ({"match": "wan2.7-r2v", "scenario": "fail=X"}, "match"),
        ({"scenario": "fail=X", "times": 0}, "times"),
        ({"scenario": "fail=X", "times": "2"}, "times"),
        ({"scenario": "fail=X", "times": True}, "times"),
        ({"scenario": "bogus"}, "scenario"),
        ({"scenario": 5}, "scenario"),
        ({"match": {"model": "wan2.7-r2v"}}, "scenario"),
        ({"scenario": "fail=X", "extra": 1}, "extra"),
        (["fail=X"], "body"),
    ],
)
def test_a_bad_rule_is_a_400_naming_the_field(emu, body, named):
    answer = control(emu, "POST", "/rules", json=body)
    assert answer.status_code == 400 and answer.json()["code"] == "InvalidParameter", answer.text
    assert answer.json()["message"].startswith(named), answer.json()
    if body == {"scenario": "bogus"}:
        assert "'bogus'" in answer.json()["message"]
    assert emu.rules() == []


# -- the recorder ----------------------------------------------------------------------------------------------------


def test_the_recorder_keeps_requests_oldest_first_without_secrets(emu):
    from dashscope import VideoSynthesis

    task_id = created_id(create(emu, "pending=0", prompt="图1 the recorded prompt"))
    fetch(emu, task_id)
    VideoSynthesis.list(api_key=emu.api_key, page_no=1, page_size=5)
    inline = png_data_uri(320, 320)
    created_id(create(emu, media=[{"type": "reference_image", "url": inline}]))
    secrets = {"Authorization": f"Bearer {emu.api_key}", "Cookie": "session=s3cret", "X-Api-Key": "k3y-s3cret"}
    assert httpx.get(f"{emu.base_url}/tasks/{task_id}", headers=secrets).status_code == 200
    control(emu, "GET", "/rules")  # the control plane itself is not recorded

    answer = control(emu, "GET", "/requests")
    # Secret headers are left out of the recorder (it may end up in a CI log): the key is nowhere in it.
    assert emu.api_key not in answer.text and "s3cret" not in answer.text
    made, queried, paged, inlined, raw = answer.json()["requests"]
    assert raw["path"] == f"{TASKS}/{task_id}" and not {"authorization", "cookie", "x-api-key"} & set(raw["headers"])
    assert (made["method"], made["path"], made["status"]) == ("POST", CREATE, 200)
    assert made["body"]["input"]["prompt"] == "图1 the recorded prompt" and made["body"]["model"] == "wan2.7-r2v"
    assert "authorization" not in made["headers"] and made["headers"]["x-dashscope-async"] == "enable"
    assert made["headers"]["x-r2v-scenario"] == "pending=0" and made["scenario"] == "pending=0"
    assert (queried["method"], queried["path"], queried["body"], queried["scenario"]) == (
        "GET", f"{TASKS}/{task_id}", None, None)  # fmt: skip
    assert (paged["path"], paged["query"]) == (TASKS, {"page_no": "1", "page_size": "5"})
    url = inlined["body"]["input"]["media"][0]["url"]
    assert url.startswith("data:image/png;base64,") and len(url) < 200 and str(len(inline)) in url
    assert made["time_ms"] <= queried["time_ms"] <= paged["time_ms"] <= inlined["time_ms"]


# -- reset -----------------------------------------------------------------------------------------------------------


def test_reset_clears_rules_recorder_and_tasks(emu):
    task_id = created_id(create(emu))
    until(emu, task_id, "SUCCEEDED")
    emu.add_rule("fail=X", model="wan2.7-r2v")
    assert emu.requests()
    emu.reset()
    assert emu.rules() == [] and emu.requests() == []
    assert fetch(emu, task_id)["task_status"] == "UNKNOWN"
    assert listed(emu) == []


def test_reset_stops_and_removes_a_running_task(emu):
    task_id = created_id(create(emu, "running=60"))
    until(emu, task_id, "RUNNING")
    emu.reset()
    assert fetch(emu, task_id)["task_status"] == "UNKNOWN"
    time.sleep(0.5)  # it is not played again later either
    assert fetch(emu, task_id)["task_status"] == "UNKNOWN"
    assert listed(emu) == []


# -- the control endpoints and the header on a normal server -------------------------------------------------------


def test_control_endpoints_need_no_api_key(emu):
    assert control(emu, "GET", "/rules").json() == {"rules": []}
    assert control(emu, "POST", "/rules", json={"scenario": "pending=1"}).status_code == 200
    assert control(emu, "GET", "/requests").status_code == 200
    assert control(emu, "POST", "/reset").status_code == 200


def test_a_normal_server_has_no_control_endpoints_and_ignores_the_header(server, sdk, media):
    from dashscope import VideoSynthesis

    for method, path in [("GET", "/rules"), ("POST", "/rules"), ("DELETE", "/rules"), ("GET", "/requests"),
                         ("POST", "/reset")]:  # fmt: skip
        answer = httpx.request(method, f"{server.base}/r2v/emulator{path}", json={"scenario": "fail=X"})
        assert answer.status_code == 404 and answer.json()["code"] == "NotFound", (method, path, answer.text)
    rsp = VideoSynthesis.async_call(api_key=KEY, model="wan2.7-r2v", prompt="图1", duration=2, resolution="720P",
                                    media=[{"type": "reference_image", "url": media.url("girl.png")}],
                                    headers={"X-R2V-Scenario": "http=500;fail=X"})  # fmt: skip
    assert rsp.status_code == HTTPStatus.OK and rsp.output.task_status == "PENDING", rsp
    # Leave the shared server as it was: no task of ours stays queued for its workers.
    if VideoSynthesis.cancel(rsp, api_key=KEY).status_code != HTTPStatus.OK:
        VideoSynthesis.wait(rsp, api_key=KEY, wait_timeout=120)


# -- real validation, keys and inputs ------------------------------------------------------------------------------


def test_validation_and_keys_are_the_real_ones(emu):
    too_long = create(emu, duration=99)
    assert (too_long.status_code, too_long.code) == (400, "InvalidParameter")
    assert too_long.message.startswith("parameters.duration"), too_long.message
    from dashscope import VideoSynthesis

    wrong = VideoSynthesis.async_call(api_key="sk-not-a-key", model="wan2.7-r2v", prompt="图1", duration=2,
                                      media=[{"type": "reference_image", "url": PICTURE}])  # fmt: skip
    assert (wrong.status_code, wrong.code) == (401, "InvalidApiKey")
    assert listed(emu) == []


def test_an_inline_picture_too_small_fails_the_task_naming_the_field(emu):
    task_id = created_id(create(emu, media=[{"type": "reference_image", "url": png_data_uri(100, 100)}]))
    out = until(emu, task_id, "SUCCEEDED", "FAILED")
    assert (out["task_status"], out["code"]) == ("FAILED", "InvalidParameter")
    assert out["message"].startswith("input.media[0].url") and "100" in out["message"], out["message"]


# -- /v1/videos with the openai SDK -------------------------------------------------------------------------------


def test_openai_videos_fail_and_429(emu):
    client = openai.OpenAI(base_url=emu.openai_base_url, api_key=emu.api_key, max_retries=0, timeout=60)
    reference = {"input_reference": {"image_url": PICTURE}}
    video = client.videos.create(prompt="Image 1 waves", seconds="2", extra_body=reference,
                                 extra_headers=emu.scenario("fail=DataInspectionFailed"))  # fmt: skip
    deadline = time.monotonic() + 60
    while video.status in ("queued", "in_progress") and time.monotonic() < deadline:
        time.sleep(0.1)
        video = client.videos.retrieve(video.id)
    assert video.status == "failed" and video.error.code == "DataInspectionFailed", video
    assert video.error.message == "Input data may contain inappropriate content."

    with pytest.raises(openai.RateLimitError) as raised:
        client.videos.create(prompt="Image 1", seconds="2", extra_body=reference,
                             extra_headers=emu.scenario("http=429"))  # fmt: skip
    # OpenAI's envelope, as for the real rate limit: its code, the cloud's words
    assert (raised.value.status_code, raised.value.code) == (429, "rate_limit_exceeded")
    assert raised.value.body["message"] == "Requests rate limit exceeded, please try again later."
    assert [v.id for v in client.videos.list()] == [video.id]

"""Raw HTTP: the guide's curl examples byte for byte (only the media URLs point at loopback), and every error
answer in the DashScope envelope."""

from __future__ import annotations

import base64
import json
import re

import httpx
import pytest

from tests.conftest import KEY, OTHER_KEY, data_uri
from tests.helpers import assert_spec_video, wait_status

pytestmark = pytest.mark.server

CDN = "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/"
# guide URL -> the generated asset that stands in for it
STAND_INS = {
    "20260408/sjuytr/wan-r2v-object-girl.jpg": "girl.png",
    "20260408/gbqewz/wan-r2v-girl-voice.mp3": "girl-voice.wav",
    "20260129/qigswt/wan-r2v-role2.mp4": "boy.mp4",
    "20260408/isllrq/wan-r2v-boy-voice.mp3": "boy-voice.wav",
    "20260129/rtjeqf/wan-r2v-object3.png": "sunflowers.png",
    "20260129/qpzxps/wan-r2v-object4.png": "guitar.png",
    "20260129/wfjikw/wan-r2v-backgroud5.png": "room.png",
    "20260403/wgjaxy/banana_storyboard_00000020.png": "storyboard.png",
    "20260414/ixwovg/wan2.7-r2v-first-frame.webp": "first-frame.png",
    "20260414/fkltfw/wan2.7-r2v-image-qq.webp": "girl.png",
    "20260414/kxkbsv/wan2.7-r2v-image-ob.webp": "sunflowers.png",
}

# The -d bodies of the guide's three curl examples, verbatim.
CURL_MULTI_SUBJECT = """{
"model": "wan2.7-r2v",
"input": {
"prompt": "视频1抱着图3，在图4的椅子上弹奏一支舒缓的乡村民谣，并说道：“今天的阳光真好。”图1手中拿着图2，路过视频1，把手中的图2放到视频1旁边的桌子上，并说道：“真好听，能不能再唱一遍”。 ",
"media": [
{
"type": "reference_image",
"url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260408/sjuytr/wan-r2v-object-girl.jpg",
"reference_voice": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260408/gbqewz/wan-r2v-girl-voice.mp3"
},
{
"type": "reference_video",
"url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260129/qigswt/wan-r2v-role2.mp4",
"reference_voice": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260408/isllrq/wan-r2v-boy-voice.mp3"
},
{
"type": "reference_image",
"url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260129/rtjeqf/wan-r2v-object3.png"
},
{
"type": "reference_image",
"url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260129/qpzxps/wan-r2v-object4.png"
},
{
"type": "reference_image",
"url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260129/wfjikw/wan-r2v-backgroud5.png"
}
]
},
"parameters": {
"resolution": "720P",
"ratio": "16:9",
"duration": 10,
"prompt_extend": false,
"watermark": true
}
}"""

CURL_STORYBOARD = """{
"model": "wan2.7-r2v",
"input": {
"prompt": "参考图片，3D卡通冒险电影风，角色Q版但材质细腻，动作流畅，色彩鲜明，保持角色与森林场景一致，不要加入文字。氛围: 冒险、轻快、神秘、童趣。角色: 小男孩探险家:圆帽、背包、短斗篷。小伙伴:会飞的小机器人，圆形身体，蓝色发光眼。场景: 奇幻森林，巨大树根、蘑菇、藤蔓、藏宝洞口、阳光光束。分镜脚本: 1. 全景:奇幻森林里高大树木与光束交错，环境神秘明亮。 2. 中景:小男孩拨开藤蔓向前探路。 3. 中景:小机器人飞在他身边，用蓝光扫描前方。 4. 特写:一张旧藏宝图在男孩手里展开。 5. 近景:他露出兴奋表情，眼睛亮起来。 6. 动作镜头:两人跳过树根和小溪，继续深入森林。 7. 中景:藤蔓后方露出一个被苔藓覆盖的宝箱。 8. 特写:宝箱边缘闪出金色光芒。 9. 收束镜头:男孩和小机器人站在宝箱前惊喜对望，冒险感拉满。",
"media": [
{
"type": "reference_image",
"url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260403/wgjaxy/banana_storyboard_00000020.png"
}
]
},
"parameters": {
"resolution": "720P",
"ratio": "16:9",
"duration": 10,
"prompt_extend": false,
"watermark": true
}
}"""

CURL_FIRST_FRAME = """{
"model": "wan2.7-r2v",
"input": {
"prompt": "俯拍在一个蓝色的星球上，镜头逐渐推进到星球上面给到图1特写，他拿着图2，一边吃着图2，一边说：“怎么没人找我来玩呀？” ",
"media": [
{
"type": "first_frame",
"url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260414/ixwovg/wan2.7-r2v-first-frame.webp"
},
{
"type": "reference_image",
"url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260414/fkltfw/wan2.7-r2v-image-qq.webp"
},
{
"type": "reference_image",
"url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20260414/kxkbsv/wan2.7-r2v-image-ob.webp"
}
]
},
"parameters": {
"resolution": "720P",
"duration": 10,
"prompt_extend": false,
"watermark": true
}
}"""

WIRE_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
CREATE = "/services/aigc/video-generation/video-synthesis"


def _headers(key=KEY, **extra):
    return {"X-DashScope-Async": "enable", "Authorization": f"Bearer {key}", "Content-Type": "application/json",
            **extra}  # fmt: skip


def _localize(body: str, media) -> bytes:
    for path, name in STAND_INS.items():
        body = body.replace(CDN + path, media.url(name))
    return body.encode()


def _assert_envelope(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "request_id"} and body["code"] == code, body
    assert "Traceback" not in body["message"]
    return body


@pytest.mark.parametrize(
    "body, size",
    [(CURL_MULTI_SUBJECT, (1280, 720)), (CURL_STORYBOARD, (1280, 720)), (CURL_FIRST_FRAME, (1104, 832))],
    ids=["multi-subject", "storyboard", "first-frame"],
)
def test_guide_curl_examples(server, media, body, size, tmp_path):
    created = httpx.post(server.api + CREATE, content=_localize(body, media), headers=_headers())
    assert created.status_code == 200, created.text
    answer = created.json()
    assert set(answer) == {"output", "request_id"}
    assert set(answer["output"]) == {"task_id", "task_status"} and answer["output"]["task_status"] == "PENDING"
    task_id = answer["output"]["task_id"]

    def fetch():
        r = httpx.get(f"{server.api}/tasks/{task_id}", headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200
        return r.json()["output"]

    output = wait_status(fetch, {"SUCCEEDED", "FAILED"})
    assert output["task_status"] == "SUCCEEDED", output
    for key in ("submit_time", "scheduled_time", "end_time"):
        assert WIRE_TIME.match(output[key]), output[key]
    assert output["orig_prompt"] == json.loads(body)["input"]["prompt"]
    video = tmp_path / "v.mp4"
    video.write_bytes(httpx.get(output["video_url"]).content)
    assert_spec_video(video, *size, 10, audio=True)


def test_query_with_trailing_slash_and_params(server, media):
    created = httpx.post(server.api + CREATE, headers=_headers(), json={
        "model": "wan2.7-r2v", "input": {"prompt": "参考图片", "media": [{"type": "reference_image", "url": media.url("girl.png")}]},
        "parameters": {"resolution": "720P", "duration": 2}})  # fmt: skip
    task_id = created.json()["output"]["task_id"]
    auth = {"Authorization": f"Bearer {KEY}"}
    plain = httpx.get(f"{server.api}/tasks/{task_id}", headers=auth).json()
    slashed = httpx.get(f"{server.api}/tasks/{task_id}/?model=wan2.7-r2v&duration=2&x=1", headers=auth).json()
    assert plain["output"]["task_id"] == slashed["output"]["task_id"] == task_id
    unknown = httpx.get(f"{server.api}/tasks/nope/", headers=auth)
    assert unknown.status_code == 200
    assert unknown.json()["output"] == {"task_id": "nope", "task_status": "UNKNOWN"}


def test_video_url_uses_the_host_the_client_used(server, media):
    base = f"http://localhost:{server.port}/api/v1"
    created = httpx.post(base + CREATE, headers=_headers(), json={
        "model": "wan2.7-r2v", "input": {"prompt": "x", "media": [{"type": "reference_image", "url": media.url("girl.png")}]},
        "parameters": {"resolution": "720P", "duration": 2}})  # fmt: skip
    task_id = created.json()["output"]["task_id"]
    output = wait_status(
        lambda: httpx.get(f"{base}/tasks/{task_id}", headers=_headers()).json()["output"], {"SUCCEEDED"}
    )
    assert output["video_url"].startswith(f"http://localhost:{server.port}/")

    # the result file: video/mp4, byte ranges, and a signature that covers path and expiry
    url = output["video_url"]
    full = httpx.get(url)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    assert httpx.head(url).status_code == 200
    forged_expiry = re.sub(r"Expires=(\d+)", lambda m: f"Expires={int(m.group(1)) + 3600}", url)
    _assert_envelope(httpx.get(forged_expiry), 403, "AccessDenied")
    other_path = url.replace(task_id, "00000000-0000-0000-0000-000000000000")
    _assert_envelope(httpx.get(other_path), 403, "AccessDenied")
    _assert_envelope(httpx.get(url.split("?")[0]), 403, "AccessDenied")


def _valid_body(media):
    return {
        "model": "wan2.7-r2v",
        "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": media.url("girl.png")}]},
    }


def test_auth_and_async_header_errors(server, media):
    url = server.api + CREATE
    body = _valid_body(media)
    no_key = _assert_envelope(httpx.post(url, json=body, headers={"X-DashScope-Async": "enable"}), 401, "InvalidApiKey")
    assert no_key["message"] == "No API-key provided."
    wrong = _assert_envelope(httpx.post(url, json=body, headers=_headers("sk-nope")), 401, "InvalidApiKey")
    assert wrong["message"] == "Invalid API-key provided."
    sync = _assert_envelope(httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}), 403, "AccessDenied")
    assert sync["message"] == "current user api does not support synchronous calls"
    for path in ("/tasks", "/tasks/x", "/uploads?action=getPolicy&model=wan2.7-r2v"):
        _assert_envelope(httpx.get(server.api + path), 401, "InvalidApiKey")


def test_framework_errors_in_the_envelope(server):
    url = server.api + CREATE
    bad_json = _assert_envelope(httpx.post(url, content=b'{"model":', headers=_headers()), 400, "InvalidParameter")
    assert "JSON" in bad_json["message"]
    _assert_envelope(httpx.post(url, content=b"", headers=_headers()), 400, "InvalidParameter")
    _assert_envelope(httpx.post(url, content=b"[1,2]", headers=_headers()), 400, "InvalidParameter")
    _assert_envelope(httpx.post(url, content=b"[" * 5000 + b"]" * 5000, headers=_headers()), 400, "InvalidParameter")
    _assert_envelope(httpx.get(server.api + "/no/such/path"), 404, "NotFound")
    _assert_envelope(httpx.delete(server.api + "/tasks", headers=_headers()), 405, "MethodNotAllowed")
    _assert_envelope(httpx.get(url, headers=_headers()), 405, "MethodNotAllowed")
    big = b'{"model": "wan2.7-r2v", "input": {"prompt": "' + b"x" * (33 * 1024 * 1024) + b'"}}'
    _assert_envelope(httpx.post(url, content=big, headers=_headers()), 413, "BadRequest.TooLarge")


@pytest.mark.parametrize(
    "mutate, status, code, field",
    [
        (lambda b: b["input"]["media"][0].update(url="ftp://example.com/a.png"), 400, "InvalidURL", "input.media[0].url"),
        (lambda b: b["input"]["media"][0].update(url="oss://dashscope-instant/x/a.png"), 400,
         "InvalidParameter.DataInspection", "input.media[0].url"),
        (lambda b: b["input"]["media"][0].update(type="reference_video", url="data:video/mp4;base64,AAAA"), 400,
         "InvalidURL", "input.media[0].url"),
        (lambda b: b["input"]["media"][0].update(url="data:image/gif;base64,R0lGOD"), 400, "InvalidParameter",
         "input.media[0].url"),
        (lambda b: b["input"]["media"][0].update(url="data:image/png;base64,%%%"), 400, "InvalidURL", "input.media[0].url"),
        (lambda b: b["input"].update(prompt=None), 400, "InvalidParameter", "input.prompt"),
        (lambda b: b["input"].update(prompt=5), 400, "InvalidParameter", "input.prompt"),
        (lambda b: b.pop("input"), 400, "InvalidParameter", "input"),
        (lambda b: b.update(parameters={"duration": "5"}), 400, "InvalidParameter", "parameters.duration"),
        (lambda b: b.update(parameters={"duration": True}), 400, "InvalidParameter", "parameters.duration"),
        (lambda b: b.update(parameters=[1]), 400, "InvalidParameter", "parameters"),
        (lambda b: b["input"]["media"][0].update(type="first_frame", reference_voice="http://x/v.mp3"), 400,
         "InvalidParameter", "input.media[0].reference_voice"),
    ],
)  # fmt: skip
def test_static_validation_raw(server, media, mutate, status, code, field):
    body = _valid_body(media)
    mutate(body)
    answer = _assert_envelope(httpx.post(server.api + CREATE, json=body, headers=_headers()), status, code)
    assert answer["message"].startswith(field), answer


def test_sdk_extras_and_unknown_fields_are_tolerated(server, media):
    body = _valid_body(media)
    body["input"].update(extend_prompt=True, function="video-synthesis", negative_prompt=None, something_new=1)
    body["parameters"] = {"with_audio": False, "resolution": "720P", "duration": 2, "audio": False, "shot_type": "x",
                          "size": None, "seed": 7, "anything": {"nested": True}}  # fmt: skip
    body["input"]["media"][0].update(referenceDescription="a girl", reference_description="a girl")
    created = httpx.post(server.api + CREATE, json=body, headers=_headers())
    assert created.status_code == 200, created.text


def test_data_uri_input_and_mismatched_mime(server, assets):
    ok = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": data_uri(assets["girl"])}]},
          "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
    wrong = json.loads(json.dumps(ok))
    wrong["input"]["media"][0]["url"] = data_uri(assets["girl"], "image/jpeg")
    ids = [httpx.post(server.api + CREATE, json=b, headers=_headers()).json()["output"]["task_id"] for b in (ok, wrong)]

    def fetch(task_id):
        return lambda: httpx.get(f"{server.api}/tasks/{task_id}", headers=_headers()).json()["output"]

    assert wait_status(fetch(ids[0]), {"SUCCEEDED", "FAILED"})["task_status"] == "SUCCEEDED"
    failed = wait_status(fetch(ids[1]), {"SUCCEEDED", "FAILED"})
    assert failed["task_status"] == "FAILED" and failed["code"] == "InvalidParameter"
    assert failed["message"].startswith("input.media[0].url") and "image/jpeg" in failed["message"]


def test_cancel_errors(server):
    answer = _assert_envelope(
        httpx.post(f"{server.api}/tasks/nope/cancel", headers=_headers()), 400, "UnsupportedOperation"
    )
    assert answer["message"] == "Failed to cancel the task, please confirm if the task is in PENDING status."


def test_list_parameters(server):
    auth = {"Authorization": f"Bearer {KEY}"}
    ok = httpx.get(f"{server.api}/tasks/?page_no=1&page_size=3&api_key_id=x&region=cn-beijing", headers=auth)
    assert ok.status_code == 200
    assert set(ok.json()) == {"request_id", "total", "total_page", "page_no", "page_size", "data"}
    _assert_envelope(httpx.get(f"{server.api}/tasks?start_time=2026-01-01", headers=auth), 400, "InvalidParameter")
    _assert_envelope(httpx.get(f"{server.api}/tasks?start_time=20260101000000&end_time=20260103000000", headers=auth),
                     400, "InvalidParameter")  # fmt: skip
    _assert_envelope(httpx.get(f"{server.api}/tasks?page_size=0", headers=auth), 400, "InvalidParameter")
    _assert_envelope(httpx.get(f"{server.api}/tasks?status=DONE", headers=auth), 400, "InvalidParameter")


# -- the upload flow, by hand ---------------------------------------------------------------------------------


def _policy(server, key=KEY, model="wan2.7-r2v"):
    r = httpx.get(
        f"{server.api}/uploads",
        params={"action": "getPolicy", "model": model},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    return r.json()["data"]


def _post_form(policy, name, content, key_override=None):
    fields = {
        "OSSAccessKeyId": policy["oss_access_key_id"], "Signature": policy["signature"], "policy": policy["policy"],
        "key": key_override or f"{policy['upload_dir']}/{name}", "x-oss-object-acl": "private",
        "x-oss-forbid-overwrite": "true", "success_action_status": "200",
    }  # fmt: skip
    return httpx.post(policy["upload_host"], data=fields, files={"file": (name, content)})


def test_upload_policy_and_form(server, assets, media):
    policy = _policy(server)
    document = json.loads(base64.b64decode(policy["policy"]))
    assert ["starts-with", "$key", policy["upload_dir"]] in document["conditions"]
    assert policy["upload_dir"].startswith("dashscope-instant/") and policy["expire_in_seconds"] == 300
    content = assets["girl"].read_bytes()
    ok = _post_form(policy, "girl.png", content)
    assert ok.status_code == 200 and ok.content == b""
    _assert_envelope(_post_form(policy, "girl.png", content), 409, "FileAlreadyExists")  # no overwrite
    _assert_envelope(
        _post_form(policy, "x.png", content, key_override="dashscope-instant/other/x.png"), 403, "AccessDenied"
    )
    _assert_envelope(
        _post_form(policy, "x.png", content, key_override=f"{policy['upload_dir']}/../x.png"), 403, "AccessDenied"
    )
    forged = dict(policy, signature=base64.b64encode(b"0" * 20).decode())
    _assert_envelope(_post_form(forged, "y.png", content), 403, "AccessDenied")
    _assert_envelope(_post_form(policy, "notes.txt", b"hello, not media"), 415, "BadRequest.UnsupportedFileFormat")
    _assert_envelope(httpx.get(f"{server.api}/uploads", params={"action": "getPolicy", "model": "nope"},
                               headers=_headers()), 400, "InvalidParameter")  # fmt: skip

    oss_url = f"oss://{policy['upload_dir']}/girl.png"
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [{"type": "reference_image", "url": oss_url}]},
            "parameters": {"resolution": "720P", "duration": 2}}  # fmt: skip
    no_header = httpx.post(server.api + CREATE, json=body, headers=_headers())
    _assert_envelope(no_header, 400, "InvalidParameter.DataInspection")
    resolve = {"X-DashScope-OssResourceResolve": "enable"}
    stranger = httpx.post(server.api + CREATE, json=body, headers=_headers(OTHER_KEY, **resolve))
    assert _assert_envelope(stranger, 400, "InvalidParameter")["message"].startswith("input.media[0].url")
    created = httpx.post(server.api + CREATE, json=body, headers=_headers(**resolve))
    assert created.status_code == 200
    task_id = created.json()["output"]["task_id"]
    done = wait_status(lambda: httpx.get(f"{server.api}/tasks/{task_id}", headers=_headers()).json()["output"],
                       {"SUCCEEDED", "FAILED"})  # fmt: skip
    assert done["task_status"] == "SUCCEEDED", done


def test_healthz(server):
    r = httpx.get(server.base + "/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["NaN", "Infinity", "-Infinity"])
def test_the_official_sdk_sending_nan_or_infinity_is_answered_400(sdk, media, value):
    """The dashscope SDK serialises with json.dumps, which writes NaN and Infinity as bare words; r2v answers as
    for any malformed body: 400 InvalidParameter in the envelope, the message starting with "body"."""
    from dashscope import VideoSynthesis

    rsp = VideoSynthesis.async_call(api_key=KEY, model="wan2.7-r2v", prompt="图1", seed=value,
                                    media=[{"type": "reference_image", "url": media.url("girl.png")}])  # fmt: skip
    assert rsp.status_code == 400 and rsp.code == "InvalidParameter", rsp
    assert rsp.message.startswith("body: malformed JSON") and "is not a JSON number" in rsp.message, rsp

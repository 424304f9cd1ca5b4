"""Create-request parsing, as a table: what is accepted and how it is normalised, and what is refused."""

from __future__ import annotations

import pytest

from r2v.errors import ApiError
from r2v.protocol.validate import parse_create

pytestmark = pytest.mark.unit

IMG = {"type": "reference_image", "url": "https://example.com/a.png"}
VID = {"type": "reference_video", "url": "https://example.com/a.mp4"}
FF = {"type": "first_frame", "url": "https://example.com/f.png"}


def spec27(prompt="图1", media=(IMG,), region="cn-beijing", **params):
    return parse_create({"model": "wan2.7-r2v", "input": {"prompt": prompt, "media": list(media)}, "parameters": params},
                        region=region).spec  # fmt: skip


def spec26(prompt="character1", urls=("https://example.com/a.png",), model="wan2.6-r2v", region="cn-beijing", **params):
    return parse_create({"model": model, "input": {"prompt": prompt, "reference_urls": list(urls)}, "parameters": params},
                        region=region).spec  # fmt: skip


def refused(fn, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args, **kwargs)
    assert info.value.status == 400
    return info.value


def test_wan27_defaults():
    spec = spec27()
    assert (spec.width, spec.height, spec.resolution, spec.ratio) == (1920, 1080, "1080P", "16:9")
    assert spec.duration == 5 and spec.prompt_extend is True and spec.watermark is False and spec.audio is True
    assert 0 <= spec.seed <= 2147483647


@pytest.mark.parametrize(
    "resolution, ratio, size",
    [("720P", "16:9", (1280, 720)), ("720P", "9:16", (720, 1280)), ("720P", "1:1", (960, 960)),
     ("720P", "4:3", (1104, 832)), ("720P", "3:4", (832, 1104)), ("1080P", "16:9", (1920, 1080)),
     ("1080P", "9:16", (1080, 1920)), ("1080P", "1:1", (1440, 1440)), ("1080P", "4:3", (1648, 1248)),
     ("1080P", "3:4", (1248, 1648))],
)  # fmt: skip
def test_wan27_size_table(resolution, ratio, size):
    spec = spec27(resolution=resolution, ratio=ratio)
    assert (spec.width, spec.height) == size


def test_first_frame_ignores_ratio():
    spec = spec27(media=(FF, IMG), ratio="not-a-ratio")
    assert spec.size_from_first_frame and spec.ratio is None


def test_prompts_are_truncated():
    assert len(spec27(prompt="图1" + "好" * 6000).prompt) == 5000
    assert len(spec26(prompt="character1" + "x" * 2000).prompt) == 1500
    body = {"model": "wan2.7-r2v", "input": {"prompt": "x", "negative_prompt": "n" * 900, "media": [IMG]}}
    assert len(parse_create(body, region="cn-beijing").spec.negative_prompt) == 500


@pytest.mark.parametrize(
    "prompt, media",
    [("图1和图2", (IMG, IMG)), ("视频1抱着图1", (IMG, VID)), ("图片2靠在墙上", (IMG, IMG)), ("Image 2 and Video 1", (IMG, IMG, VID)),
     ("参考图片", (IMG,)), ("no reference named at all", (IMG, VID))],
)  # fmt: skip
def test_reference_tokens_accepted(prompt, media):
    spec27(prompt=prompt, media=media)


@pytest.mark.parametrize(
    "prompt, media",
    [
        ("图2", (IMG,)),
        ("视频1", (IMG,)),
        ("图0", (IMG,)),
        ("image 3", (IMG, IMG)),
        ("VIDEO 2", (VID,)),
        ("图片3", (IMG, IMG)),
    ],
)
def test_reference_tokens_refused(prompt, media):
    assert refused(spec27, prompt=prompt, media=media).message.startswith("input.prompt:")


def test_java_sdk_camel_case_and_descriptions():
    item = dict(IMG, referenceVoice="https://example.com/v.mp3", referenceDescription="a girl")
    ref = spec27(media=(item,)).media[0]
    assert ref.voice_url == "https://example.com/v.mp3" and ref.voice_field == "input.media[0].referenceVoice"
    assert ref.description == "a girl"


def test_nulls_are_absent():
    body = {"model": "wan2.7-r2v", "input": {"prompt": "图1", "negative_prompt": None, "media": [IMG]},
            "parameters": {"duration": None, "seed": None, "watermark": None}}  # fmt: skip
    spec = parse_create(body, region="cn-beijing").spec
    assert spec.duration == 5 and spec.watermark is False


def test_integral_floats_are_integers():
    assert spec27(duration=6.0).duration == 6
    assert refused(spec27, duration=6.5).message.startswith("parameters.duration")


def test_wan26_defaults_and_sizes():
    spec = spec26()
    assert (spec.width, spec.height, spec.resolution, spec.shot_type, spec.audio) == (
        1920,
        1080,
        "1080P",
        "single",
        True,
    )
    assert spec26(size="1088*832").resolution == "720P"
    assert spec26(size="1632*1248").height == 1248
    assert spec26(model="wan2.6-r2v-flash", audio=False).audio is False
    assert spec26(audio=False).audio is True  # only the flash model can be silent
    assert spec26(prompt="Character1 waves").prompt == "Character1 waves"


def test_wan26_reference_video_urls_merge():
    body = {"model": "wan2.6-r2v", "input": {"prompt": "character2", "reference_urls": ["https://e.com/a.png"],
            "reference_video_urls": ["https://e.com/b.mp4"]}}  # fmt: skip
    spec = parse_create(body, region="cn-beijing").spec
    assert [m.kind for m in spec.media] == ["reference", "reference_video"]
    assert spec.media[1].field == "input.reference_video_urls[0]"


@pytest.mark.parametrize(
    "kwargs, field",
    [({"urls": ()}, "input.reference_urls"), ({"urls": ("https://e.com/a.png",) * 6}, "input.reference_urls"),
     ({"size": "1280x720"}, "parameters.size"), ({"shot_type": "many"}, "parameters.shot_type"),
     ({"prompt": "character3"}, "input.prompt"), ({"duration": 12}, "parameters.duration"),
     ({"audio": "false"}, "parameters.audio")],
)  # fmt: skip
def test_wan26_refusals(kwargs, field):
    assert refused(spec26, **kwargs).message.startswith(field)


def test_regions():
    assert refused(spec27, region="us-east-1").message == "Model not exist."
    assert spec26(region="us-east-1", duration=10).duration == 10
    assert refused(spec26, region="us-east-1", duration=6).message.startswith("parameters.duration")
    assert refused(spec26, model="wan2.6-r2v-flash", region="us-east-1").message == "Model not exist."
    assert spec27(region="ap-southeast-1").model == "wan2.7-r2v"


def test_snapshot_model_name():
    body = {"model": "wan2.7-r2v-2026-06-12", "input": {"prompt": "图1", "media": [IMG]}}
    assert parse_create(body, region="cn-beijing").spec.model == "wan2.7-r2v-2026-06-12"


@pytest.mark.parametrize(
    "url, code",
    [("ftp://e.com/a.png", "InvalidURL"), ("https://", "InvalidURL"), ("http://e.com:99999/a", "InvalidURL"),
     (" https://e.com/a.png", "InvalidURL"), ("/etc/passwd", "InvalidURL"), ("file:///etc/passwd", "InvalidURL"),
     ("", "InvalidParameter"), (7, "InvalidParameter")],
)  # fmt: skip
def test_bad_urls(url, code):
    error = refused(spec27, media=(dict(IMG, url=url),))
    assert error.code == code and error.message.startswith("input.media[0].url")


def test_oss_needs_the_resolve_header():
    body = {
        "model": "wan2.7-r2v",
        "input": {"prompt": "图1", "media": [dict(IMG, url="oss://dashscope-instant/a/b.png")]},
    }
    assert refused(parse_create, body, region="cn-beijing").code == "InvalidParameter.DataInspection"
    assert parse_create(body, region="cn-beijing", oss_resolve=True).spec.media[0].url.startswith("oss://")


def test_data_uri_payload_is_decoded():
    parsed = parse_create({"model": "wan2.7-r2v", "input": {"prompt": "图1", "media": [
        dict(IMG, url="data:image/png;base64,iVBORw0KGgo=")]}}, region="cn-beijing")  # fmt: skip
    assert parsed.inline["input.media[0].url"] == (b"\x89PNG\r\n\x1a\n", "png")

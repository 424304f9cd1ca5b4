"""Create-request validation, rule by rule, with the exact 400 each refusal answers on the wire (status, code and
the message that starts with the offending field), and what an accepted request becomes (the JobSpec)."""

from __future__ import annotations

import logging

import pytest

from r2v.errors import ApiError
from r2v.protocol import fields
from r2v.protocol.validate import parse_create

pytestmark = pytest.mark.unit

URL = "https://example.com/"
IMG = {"type": "reference_image", "url": URL + "a.png"}
VID = {"type": "reference_video", "url": URL + "a.mp4"}
FF = {"type": "first_frame", "url": URL + "f.png"}
PNG_URI = "data:image/png;base64,iVBORw0KGgo="
MEDIA_TYPES = "first_frame, reference_image, reference_video"


def body27(prompt="图1", media=(IMG,), **parameters) -> dict:
    return {"model": "wan2.7-r2v", "input": {"prompt": prompt, "media": list(media)}, "parameters": parameters}


def body26(prompt="character1", urls=(URL + "a.png",), model="wan2.6-r2v", **parameters) -> dict:
    return {"model": model, "input": {"prompt": prompt, "reference_urls": list(urls)}, "parameters": parameters}


def parse(body, region="cn-beijing", **options):
    return parse_create(body, region=region, **options)


def refusal(body, region="cn-beijing", **options) -> tuple[int, str, str]:
    with pytest.raises(ApiError) as info:
        parse(body, region, **options)
    return info.value.status, info.value.code, info.value.message


def with_input(**changes) -> dict:
    body = body27()
    body["input"].update(changes)
    return body


def with_params(body: dict, **changes) -> dict:
    body["parameters"].update(changes)
    return body


# (id, body, the message of the 400 InvalidParameter)
REFUSALS = [
    # the envelope
    ("body is an array", [1], "body: the request body must be a JSON object"),
    ("no model", {"input": {}}, "model: is required"),
    ("null model", {"model": None, "input": {}}, "model: is required"),
    ("model not a string", {"model": 27, "input": {}}, "model: must be a string"),
    ("unknown model", {"model": "wan2.5-r2v", "input": {}}, "Model not exist."),
    ("no input", {"model": "wan2.7-r2v"}, "input: is required"),
    ("input not an object", {"model": "wan2.7-r2v", "input": "x"}, "input: must be a JSON object, got string"),
    ("parameters not an object", dict(body27(), parameters=[1]), "parameters: must be a JSON object, got array"),
    # the prompt
    ("no prompt", with_input(prompt=None), "input.prompt: is required"),
    ("blank prompt", with_input(prompt=" \n"), "input.prompt: is required"),
    ("prompt not a string", with_input(prompt=5), "input.prompt: must be a string, got integer"),
    ("prompt is a list", with_input(prompt=["图1"]), "input.prompt: must be a string, got array"),
    ("negative_prompt not a string", with_input(negative_prompt=1.5),
     "input.negative_prompt: must be a string, got number"),
    ("image not in the request", body27("图2跳舞"),
     "input.prompt: the prompt names image 2 (图2), but the request has 1 reference_image item(s)"),
    ("video not in the request", body27("视频1跳舞"),
     "input.prompt: the prompt names video 1 (视频1), but the request has 0 reference_video item(s)"),
    # wan2.7 media
    ("no media", with_input(media=None), "input.media: is required for wan2.7 models"),
    ("media not a list", with_input(media={"0": IMG}), "input.media: must be an array, got object"),
    ("media item not an object", body27(media=(IMG, "x")),
     "input.media[1]: each media item must be an object with type and url"),
    ("no type", body27(media=({"url": URL},)), f"input.media[0].type: is required: one of {MEDIA_TYPES}"),
    ("type not a string", body27(media=({"type": True, "url": URL},)),
     "input.media[0].type: must be a string, got boolean"),
    ("unknown type", body27(media=(IMG, {"type": "image", "url": URL})),
     f"input.media[1].type: must be one of {MEDIA_TYPES}, got 'image'"),
    ("no url", body27(media=({"type": "reference_image"},)), "input.media[0].url: a URL string is required"),
    ("two first frames", body27(media=(FF, IMG, FF)), "input.media: at most 1 first_frame is allowed, got 2"),
    ("only a first frame", body27(media=(FF,)),
     "input.media: at least 1 reference_image or reference_video is required"),
    ("no media items", body27(media=()), "input.media: at least 1 reference_image or reference_video is required"),
    ("six references", body27(media=(IMG, VID, IMG, VID, IMG, IMG)),
     "input.media: at most 5 reference_image + reference_video items, got 6"),
    ("six videos", body27(media=(VID,) * 6), "input.media: at most 5 reference_image + reference_video items, got 6"),
    ("voice on the first frame", body27(media=(dict(FF, reference_voice=URL + "v.mp3"), IMG)),
     "input.media[0].reference_voice: only reference_image and reference_video items take a reference_voice"),
    ("camelCase voice on the first frame", body27(media=(IMG, dict(FF, referenceVoice=URL + "v.mp3"))),
     "input.media[1].referenceVoice: only reference_image and reference_video items take a reference_voice"),
    # wan2.7 parameters
    ("resolution not offered", body27(resolution="480P"),
     "parameters.resolution: must be one of 720P, 1080P, got '480P'"),
    ("resolution not a string", body27(resolution=720), "parameters.resolution: must be a string, got integer"),
    ("ratio not offered", body27(ratio="2:1"), "parameters.ratio: must be one of 16:9, 9:16, 1:1, 4:3, 3:4, got '2:1'"),
    ("ratio not a string", body27(ratio=1.5), "parameters.ratio: must be a string, got number"),
    ("duration too short", body27(duration=1), "parameters.duration: must be between 2 and 10, got 1"),
    ("duration too long", body27(duration=11), "parameters.duration: must be between 2 and 10, got 11"),
    ("duration a string", body27(duration="5"), "parameters.duration: must be an integer, got string"),
    ("duration a boolean", body27(duration=True), "parameters.duration: must be an integer, got boolean"),
    ("duration a fraction", body27(duration=5.5), "parameters.duration: must be an integer, got 5.5"),
    ("duration an object", body27(duration={}), "parameters.duration: must be an integer, got object"),
    ("negative seed", body27(seed=-1), "parameters.seed: must be between 0 and 2147483647, got -1"),
    ("seed too large", body27(seed=2147483648), "parameters.seed: must be between 0 and 2147483647, got 2147483648"),
    ("seed a string", body27(seed="7"), "parameters.seed: must be an integer, got string"),
    ("watermark a string", body27(watermark="true"),
     "parameters.watermark: must be a boolean (true or false), got string"),
    ("watermark a number", body27(watermark=1), "parameters.watermark: must be a boolean (true or false), got integer"),
    ("prompt_extend a string", body27(prompt_extend="false"),
     "parameters.prompt_extend: must be a boolean (true or false), got string"),
    # wan2.6
    ("no reference_urls", body26(urls=()),
     "input.reference_urls: is required for wan2.6 models (1 to 5 image or video URLs)"),
    ("reference_urls not a list", dict(body26(), input={"prompt": "character1", "reference_urls": URL}),
     "input.reference_urls: must be an array, got string"),
    ("reference_video_urls not a list",
     dict(body26(), input={"prompt": "character1", "reference_urls": [URL], "reference_video_urls": URL}),
     "input.reference_video_urls: must be an array, got string"),
    ("four reference videos",
     dict(body26(), input={"prompt": "character1", "reference_video_urls": [URL + "v.mp4"] * 4}),
     "input.reference_video_urls: at most 3 videos, got 4"),
    ("six references in all",
     dict(body26(), input={"prompt": "character1", "reference_urls": [URL] * 3, "reference_video_urls": [URL] * 3}),
     "input.reference_urls: at most 5 references in all, got 6"),
    ("six reference urls", body26(urls=(URL,) * 6), "input.reference_urls: at most 5 references in all, got 6"),
    ("character not in the request", body26("character1 and character3", urls=(URL, URL)),
     "input.prompt: the prompt names character3, but reference_urls has 2 item(s)"),
    ("character0", body26("character0"), "input.prompt: the prompt names character0, but reference_urls has 1 item(s)"),
    ("wan2.6 prompt missing", dict(body26(), input={"reference_urls": [URL]}), "input.prompt: is required"),
    ("size not offered", body26(size="1280x720"),
     "parameters.size: must be one of 1280*720, 720*1280, 960*960, 1088*832, 832*1088, 1920*1080, 1080*1920, "
     "1440*1440, 1632*1248, 1248*1632, got '1280x720'"),
    ("shot_type not offered", body26(shot_type="many"), "parameters.shot_type: must be one of single, multi, got 'many'"),
    ("audio a string", body26(model="wan2.6-r2v-flash", audio="false"),
     "parameters.audio: must be a boolean (true or false), got string"),
    ("wan2.6 duration", body26(duration=12), "parameters.duration: must be between 2 and 10, got 12"),
    ("wan2.6 watermark", body26(watermark="no"), "parameters.watermark: must be a boolean (true or false), got string"),
    ("wan2.6 seed", body26(seed=-5), "parameters.seed: must be between 0 and 2147483647, got -5"),
]  # fmt: skip


@pytest.mark.parametrize("body, message", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refusals(body, message):
    assert refusal(body) == (400, "InvalidParameter", message)


@pytest.mark.parametrize(
    "body, region, code, message",
    [(body27(media=(dict(VID, url=PNG_URI),)), "cn-beijing", "InvalidURL",
      "input.media[0].url: data: URIs are accepted only for images"),
     (body27(media=(dict(IMG, reference_voice=PNG_URI),)), "cn-beijing", "InvalidURL",
      "input.media[0].reference_voice: data: URIs are accepted only for images"),
     (body27(media=(dict(IMG, reference_voice="ftp://e.com/v.mp3"),)), "cn-beijing", "InvalidURL",
      "input.media[0].reference_voice: scheme 'ftp' is not allowed; use http(s)://, oss:// or (images only) a data: URI"),
     (dict(body26(), input={"prompt": "character1", "reference_video_urls": [PNG_URI]}), "cn-beijing", "InvalidURL",
      "input.reference_video_urls[0]: data: URIs are accepted only for images"),
     (body26(urls=(URL, "ftp://e.com/x")), "cn-beijing", "InvalidURL",
      "input.reference_urls[1]: scheme 'ftp' is not allowed; use http(s)://, oss:// or (images only) a data: URI"),
     (body27(), "us-east-1", "InvalidParameter", "Model not exist."),
     (body26(model="wan2.6-r2v-flash"), "us-east-1", "InvalidParameter", "Model not exist."),
     (body26(duration=6), "us-east-1", "InvalidParameter", "parameters.duration: must be 5 or 10 in us-east-1, got 6"),
     (body26(), "us-east-1", None, None)],
)  # fmt: skip
def test_refusals_by_url_and_region(body, region, code, message):
    if code is None:
        assert parse(body, region).spec.duration == 5
    else:
        assert refusal(body, region) == (400, code, message)


# --- what an accepted request becomes -----------------------------------------------------------------------------


def test_wan27_spec():
    media = (dict(FF), dict(IMG, reference_voice=URL + "v.mp3", reference_description="a girl"), dict(VID))
    body = body27("图1和视频1", media, resolution="720p", duration=2, seed=7, watermark=True, prompt_extend=False,
                  shot_type="multi", audio=False)  # fmt: skip
    body["input"]["negative_prompt"] = "blur"
    spec = parse(body).spec
    assert (spec.model, spec.generation, spec.prompt, spec.negative_prompt) == ("wan2.7-r2v", "wan2.7", "图1和视频1",
                                                                               "blur")  # fmt: skip
    assert (spec.resolution, spec.duration, spec.seed) == ("720P", 2, 7)
    assert (spec.watermark, spec.prompt_extend) == (True, False)
    assert spec.audio is True and spec.shot_type is None  # accepted and ignored
    assert [(m.kind, m.url, m.field) for m in spec.media] == [
        ("first_frame", URL + "f.png", "input.media[0].url"), ("reference_image", URL + "a.png", "input.media[1].url"),
        ("reference_video", URL + "a.mp4", "input.media[2].url")]  # fmt: skip
    voiced = spec.media[1]
    assert (voiced.voice_url, voiced.voice_field, voiced.description) == (
        URL + "v.mp3", "input.media[1].reference_voice", "a girl")  # fmt: skip
    assert spec.media[0].voice_url is None and spec.media[0].voice_field is None and spec.media[2].description is None
    assert spec.size_from_first_frame and spec.ratio is None and (spec.width, spec.height) == (1280, 720)


def test_wan27_bounds_accepted():
    assert parse(body27(duration=10)).spec.duration == 10
    assert parse(body27(duration=2.0)).spec.duration == 2
    assert parse(body27(seed=0)).spec.seed == 0
    assert parse(body27(seed=2147483647)).spec.seed == 2147483647
    five = parse(body27("图4和视频1", (FF, IMG, IMG, IMG, IMG, VID))).spec
    assert [m.kind for m in five.media].count("first_frame") == 1 and len(five.references) == 5
    assert parse(body27(media=(VID,) * 5, prompt="视频5")).spec.media[4].field == "input.media[4].url"


def test_wan27_defaults():
    spec = parse(body27()).spec
    assert (spec.resolution, spec.ratio, spec.width, spec.height) == ("1080P", "16:9", 1920, 1080)
    assert (spec.duration, spec.watermark, spec.prompt_extend, spec.negative_prompt) == (5, False, True, None)
    assert not spec.size_from_first_frame and 0 <= spec.seed <= 2147483647


def test_a_random_seed_is_drawn_per_request():
    assert len({parse(body27()).spec.seed for _ in range(8)}) > 1


def test_empty_negative_prompt_is_none():
    assert parse(with_input(negative_prompt="")).spec.negative_prompt is None


def test_a_description_must_be_text():
    spec = parse(body27(media=(dict(IMG, reference_description=["x"]),))).spec
    assert spec.media[0].description is None
    camel = parse(body27(media=(dict(IMG, referenceDescription="a boy"),))).spec
    assert camel.media[0].description == "a boy"


def test_snake_case_voice_wins_over_camel_case():
    item = dict(IMG, reference_voice=URL + "snake.mp3", referenceVoice=URL + "camel.mp3")
    ref = parse(body27(media=(item,))).spec.media[0]
    assert (ref.voice_url, ref.voice_field) == (URL + "snake.mp3", "input.media[0].reference_voice")


def test_data_uris_and_local_paths_are_kept_per_field(tmp_path):
    picture = tmp_path / "girl.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    parsed = parse(body27(media=(IMG, dict(IMG, url=PNG_URI), dict(IMG, url=str(picture)))), allow_local_paths=True)
    assert parsed.inline == {"input.media[1].url": (b"\x89PNG\r\n\x1a\n", "png")}
    assert parsed.local_paths == {"input.media[2].url": str(picture.resolve())}
    assert parse(body27()).local_paths == {} and parse(body27()).inline == {}
    _, code, message = refusal(body27(media=(dict(IMG, url=str(picture)),)))  # only `r2v generate` takes paths
    assert code == "InvalidURL" and message.startswith("input.media[0].url: ")


def test_unknown_fields_are_ignored_and_logged_at_debug_level(caplog):
    body = body27()
    body["input"].update(extend_prompt=True, function="video-synthesis", something="else")
    body["parameters"].update(with_audio=False, size="1280*720", anything=[1])
    body["extra"] = {"a": 1}
    with caplog.at_level(logging.DEBUG, logger="r2v.protocol.validate"):
        assert parse(body).spec.width == 1920
    logged = sorted((record.levelno, record.getMessage()) for record in caplog.records)
    assert logged == [(logging.DEBUG, "ignoring unknown field input.something"),
                      (logging.DEBUG, "ignoring unknown field parameters.anything")]  # fmt: skip


def test_wan26_spec():
    body = body26("Character2 and character1", (URL + "a.png", PNG_URI), model="wan2.6-r2v-flash", size="1088*832",
                  duration=10, seed=42, watermark=True, shot_type="multi", audio=False, prompt_extend=True)  # fmt: skip
    body["input"]["negative_prompt"] = "blur"
    body["input"]["reference_video_urls"] = [URL + "v1.mp4", URL + "v2.mp4", URL + "v3.mp4"]
    parsed = parse(body)
    spec = parsed.spec
    assert (spec.model, spec.generation, spec.negative_prompt) == ("wan2.6-r2v-flash", "wan2.6", "blur")
    assert (spec.width, spec.height, spec.resolution, spec.ratio) == (1088, 832, "720P", None)
    assert (spec.duration, spec.seed, spec.watermark, spec.shot_type, spec.audio) == (10, 42, True, "multi", False)
    assert spec.prompt_extend is False  # accepted and ignored for wan2.6
    assert [(m.kind, m.field) for m in spec.media] == [
        ("reference", "input.reference_urls[0]"), ("reference", "input.reference_urls[1]"),
        ("reference_video", "input.reference_video_urls[0]"), ("reference_video", "input.reference_video_urls[1]"),
        ("reference_video", "input.reference_video_urls[2]")]  # fmt: skip
    assert spec.media[3].url == URL + "v2.mp4"
    assert parsed.inline == {"input.reference_urls[1]": (b"\x89PNG\r\n\x1a\n", "png")}


def test_wan26_defaults_and_audio():
    spec = parse(body26()).spec
    assert (spec.width, spec.height, spec.resolution) == (1920, 1080, "1080P")
    assert (spec.duration, spec.shot_type) == (5, "single")
    assert (spec.watermark, spec.audio, spec.negative_prompt, spec.model) == (False, True, None, "wan2.6-r2v")
    assert parse(body26(model="wan2.6-r2v-flash")).spec.audio is True
    assert parse(body26(audio=False)).spec.audio is True  # only the flash model can be silent
    assert parse(body26(model="wan2.6-r2v-flash", audio=True)).spec.audio is True
    assert parse(body26(shot_type="single")).spec.shot_type == "single"
    videos_only = {"prompt": "character1", "reference_video_urls": [URL + "v.mp4"]}
    assert [m.kind for m in parse(dict(body26(), input=videos_only)).spec.media] == ["reference_video"]


def test_us_east_durations():
    assert parse(body26(duration=10), "us-east-1").spec.duration == 10
    assert parse(body26(duration=5), "us-east-1").spec.duration == 5
    assert parse(body26(duration=6), "ap-southeast-1").spec.duration == 6


def test_oss_urls_need_the_resolve_header():
    body = body27(media=(dict(IMG, url="oss://dashscope-instant/k/a.png"),))
    assert refusal(body) == (400, "InvalidParameter.DataInspection",
                             "input.media[0].url: oss:// URLs need the header X-DashScope-OssResourceResolve: enable")  # fmt: skip
    assert parse(body, oss_resolve=True).spec.media[0].url == "oss://dashscope-instant/k/a.png"


# --- the typed field readers ----------------------------------------------------------------------------------------


def test_field_readers_name_the_field_and_the_type_they_got():
    with pytest.raises(ApiError) as info:
        fields.opt_str({"k": b"x"}, "k", "input.media[0]")
    assert info.value.message == "input.media[0].k: must be a string, got bytes"
    with pytest.raises(ApiError) as info:
        fields.opt_int({"n": "1"}, "n", "", 0, 0, 9)
    assert info.value.message == "n: must be an integer, got string"
    assert fields.get({"k": None}, "k") is fields.MISSING and fields.get({}, "k") is fields.MISSING
    assert fields.get({"k": 0}, "k") == 0 and fields.get({"k": False}, "k") is False
    assert fields.opt_object({}, "p", "") == {} and fields.opt_list({"l": []}, "l", "") == []
    assert fields.opt_enum({"e": "b"}, "e", "", "a", ("a", "b")) == "b"
    assert fields.opt_bool({"b": False}, "b", "", True) is False

"""Create-request parsing: every check that needs no media is made here and answered with a 400.

Checks that need the media itself (download, format, pixel size, length) happen in the worker and end the
task FAILED instead; see `r2v.media`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from r2v.errors import INVALID_PARAMETER, MSG_MODEL_NOT_EXIST, ApiError, invalid
from r2v.protocol import catalog, fields, refs
from r2v.protocol.job import FIRST_FRAME, REFERENCE, REFERENCE_IMAGE, REFERENCE_VIDEO, JobSpec, MediaRef
from r2v.protocol.urls import UrlCheck, check_url

log = logging.getLogger(__name__)

MAX_REFERENCES = 5
MAX_REFERENCE_VIDEOS_26 = 3
MEDIA_TYPES = (FIRST_FRAME, REFERENCE_IMAGE, REFERENCE_VIDEO)

_KNOWN_INPUT_KEYS = {
    "prompt", "negative_prompt", "media", "reference_urls", "reference_video_urls",
    "extend_prompt", "function", "reference_video_description",
}  # fmt: skip


_KNOWN_PARAMETERS = {
    "resolution", "ratio", "duration", "prompt_extend", "watermark", "seed", "shot_type", "audio", "size",
    "with_audio",
}  # fmt: skip


@dataclass
class ParsedCreate:
    spec: JobSpec
    # decoded data-URI payloads by request field ("input.media[0].url") with their file extension
    inline: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    local_paths: dict[str, str] = field(default_factory=dict)


@dataclass
class _Ctx:
    oss_resolve: bool
    allow_local_paths: bool
    parsed_inline: dict = field(default_factory=dict)
    parsed_local: dict = field(default_factory=dict)

    def url(self, value: Any, path: str, *, allow_data: bool) -> str:
        result: UrlCheck = check_url(
            value, path, allow_data=allow_data, oss_resolve=self.oss_resolve, allow_local_paths=self.allow_local_paths
        )
        if result.inline is not None:
            self.parsed_inline[path] = (result.inline, result.inline_ext)
        if result.local_path is not None:
            self.parsed_local[path] = result.local_path
        return value


def parse_create(body: Any, *, region: str, oss_resolve: bool = False, allow_local_paths: bool = False) -> ParsedCreate:
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    model = fields.get(body, "model")
    if model is fields.MISSING:
        raise invalid("model", "is required")
    if not isinstance(model, str):
        raise invalid("model", "must be a string")
    info = catalog.model_in_region(model, region)
    if info is None:
        raise ApiError(400, INVALID_PARAMETER, MSG_MODEL_NOT_EXIST)
    if fields.get(body, "input") is fields.MISSING:
        raise invalid("input", "is required")
    inp = fields.opt_object(body, "input", "")
    params = fields.opt_object(body, "parameters", "")
    for key in inp.keys() - _KNOWN_INPUT_KEYS:
        log.debug("ignoring unknown field input.%s", key)
    for key in params.keys() - _KNOWN_PARAMETERS:
        log.debug("ignoring unknown field parameters.%s", key)

    ctx = _Ctx(oss_resolve=oss_resolve, allow_local_paths=allow_local_paths)
    if info.generation == catalog.GEN_27:
        spec = _parse_27(model, inp, params, ctx)
    else:
        spec = _parse_26(info, inp, params, ctx, region)
    return ParsedCreate(spec=spec, inline=ctx.parsed_inline, local_paths=ctx.parsed_local)


def _prompt(inp: dict, limit: int) -> str:
    prompt = fields.opt_str(inp, "prompt", "input")
    if prompt is None or not prompt.strip():
        raise invalid("input.prompt", "is required")
    return prompt[:limit]


def _negative_prompt(inp: dict) -> str | None:
    value = fields.opt_str(inp, "negative_prompt", "input")
    return value[: catalog.MAX_NEGATIVE_PROMPT] if value else None


def _common(params: dict) -> dict:
    return {
        "duration": fields.opt_int(params, "duration", "parameters", 5, catalog.MIN_DURATION, catalog.MAX_DURATION),
        "watermark": fields.opt_bool(params, "watermark", "parameters", False),
        "seed": fields.opt_int(params, "seed", "parameters", None, 0, catalog.MAX_SEED),
    }


def _parse_27(model: str, inp: dict, params: dict, ctx: _Ctx) -> JobSpec:
    prompt = _prompt(inp, catalog.MAX_PROMPT_27)
    negative = _negative_prompt(inp)
    items = fields.opt_list(inp, "media", "input")
    if items is None:
        raise invalid("input.media", "is required for wan2.7 models")
    media: list[MediaRef] = []
    for i, item in enumerate(items):
        media.append(_media_item(item, f"input.media[{i}]", ctx))
    first_frames = sum(m.kind == FIRST_FRAME for m in media)
    images = sum(m.kind == REFERENCE_IMAGE for m in media)
    videos = sum(m.kind == REFERENCE_VIDEO for m in media)
    if first_frames > 1:
        raise invalid("input.media", f"at most 1 first_frame is allowed, got {first_frames}")
    if images + videos < 1:
        raise invalid("input.media", "at least 1 reference_image or reference_video is required")
    if images + videos > MAX_REFERENCES:
        raise invalid(
            "input.media", f"at most {MAX_REFERENCES} reference_image + reference_video items, got {images + videos}"
        )
    problem = refs.missing_reference(prompt, images, videos)
    if problem:
        raise invalid("input.prompt", problem)

    resolution = _resolution(params)
    common = _common(params)
    has_first_frame = first_frames == 1
    # The ratio is ignored when a first frame is given: the output follows the frame's aspect.
    ratio = None if has_first_frame else fields.opt_enum(params, "ratio", "parameters", "16:9", catalog.RATIOS)
    width, height = catalog.SIZES_27[resolution][ratio or "16:9"]
    return JobSpec(
        model=model,
        generation=catalog.GEN_27,
        prompt=prompt,
        negative_prompt=negative,
        media=media,
        width=width,
        height=height,
        resolution=resolution,
        ratio=ratio,
        duration=common["duration"],
        seed=_seed(common["seed"]),
        prompt_extend=fields.opt_bool(params, "prompt_extend", "parameters", True),
        watermark=common["watermark"],
        audio=True,  # wan2.7 always has sound; `audio` and `shot_type` are accepted and ignored
        size_from_first_frame=has_first_frame,
    )


def _resolution(params: dict) -> str:
    value = fields.opt_str(params, "resolution", "parameters")
    if value is None:
        return "1080P"
    normalized = value.upper()
    if normalized not in catalog.SIZES_27:
        raise invalid("parameters.resolution", f"must be one of 720P, 1080P, got {value!r}")
    return normalized


def _media_item(item: Any, path: str, ctx: _Ctx) -> MediaRef:
    if not isinstance(item, dict):
        raise invalid(path, "each media item must be an object with type and url")
    kind = fields.opt_str(item, "type", path)
    if kind is None:
        raise invalid(f"{path}.type", f"is required: one of {', '.join(MEDIA_TYPES)}")
    if kind not in MEDIA_TYPES:
        raise invalid(f"{path}.type", f"must be one of {', '.join(MEDIA_TYPES)}, got {kind!r}")
    url = ctx.url(fields.get(item, "url"), f"{path}.url", allow_data=kind != REFERENCE_VIDEO)
    # The Java SDK spells these in camelCase.
    voice_key = "reference_voice" if fields.get(item, "reference_voice") is not fields.MISSING else "referenceVoice"
    voice = fields.get(item, voice_key)
    voice_url = voice_field = None
    if voice is not fields.MISSING:
        voice_field = f"{path}.{voice_key}"
        if kind == FIRST_FRAME:
            raise invalid(voice_field, "only reference_image and reference_video items take a reference_voice")
        voice_url = ctx.url(voice, voice_field, allow_data=False)
    description = fields.get(item, "reference_description")
    if description is fields.MISSING:
        description = fields.get(item, "referenceDescription")
    return MediaRef(
        kind=kind,
        url=url,
        field=f"{path}.url",
        voice_url=voice_url,
        voice_field=voice_field,
        description=description if isinstance(description, str) else None,
    )


def _parse_26(info: catalog.ModelInfo, inp: dict, params: dict, ctx: _Ctx, region: str) -> JobSpec:
    prompt = _prompt(inp, catalog.MAX_PROMPT_26)
    negative = _negative_prompt(inp)
    urls = fields.opt_list(inp, "reference_urls", "input") or []
    video_urls = fields.opt_list(inp, "reference_video_urls", "input") or []
    if not urls and not video_urls:
        raise invalid("input.reference_urls", "is required for wan2.6 models (1 to 5 image or video URLs)")
    if len(video_urls) > MAX_REFERENCE_VIDEOS_26:
        raise invalid("input.reference_video_urls", f"at most {MAX_REFERENCE_VIDEOS_26} videos, got {len(video_urls)}")
    total = len(urls) + len(video_urls)
    if total > MAX_REFERENCES:
        raise invalid("input.reference_urls", f"at most {MAX_REFERENCES} references in all, got {total}")
    media = [
        MediaRef(kind=REFERENCE, url=ctx.url(u, f"input.reference_urls[{i}]", allow_data=True),
                 field=f"input.reference_urls[{i}]")
        for i, u in enumerate(urls)
    ] + [
        MediaRef(kind=REFERENCE_VIDEO, url=ctx.url(u, f"input.reference_video_urls[{i}]", allow_data=False),
                 field=f"input.reference_video_urls[{i}]")
        for i, u in enumerate(video_urls)
    ]  # fmt: skip
    problem = refs.missing_character(prompt, total)
    if problem:
        raise invalid("input.prompt", problem)

    size = fields.opt_enum(params, "size", "parameters", "1920*1080", list(catalog.SIZES_26))
    width, height = (int(x) for x in size.split("*"))
    common = _common(params)
    if region == "us-east-1" and common["duration"] not in catalog.US_EAST_DURATIONS:
        raise invalid("parameters.duration", f"must be 5 or 10 in {region}, got {common['duration']}")
    shot_type = fields.opt_enum(params, "shot_type", "parameters", "single", ("single", "multi"))
    audio = fields.opt_bool(params, "audio", "parameters", True)
    return JobSpec(
        model=info.name,
        generation=catalog.GEN_26,
        prompt=prompt,
        negative_prompt=negative,
        media=media,
        width=width,
        height=height,
        resolution=catalog.SIZES_26[size],
        ratio=None,
        duration=common["duration"],
        seed=_seed(common["seed"]),
        prompt_extend=False,  # accepted and ignored for wan2.6
        watermark=common["watermark"],
        audio=audio if info.can_mute else True,
        shot_type=shot_type,
    )


def _seed(requested: int | None) -> int:
    # A random seed is drawn once, at create time, and stored: a task that runs again after a crash gives
    # the same video.
    return requested if requested is not None else secrets.randbelow(catalog.MAX_SEED + 1)

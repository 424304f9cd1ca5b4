"""The OpenAI-style video API (`/v1/videos`) as r2v reads it: its create fields mapped onto a DashScope create body,
so that both faces are checked by the same rules (validate.parse_create) and stored as the same tasks.

OpenAI's fields: `prompt`, `model` (default wan2.7-r2v), `seconds` (a whole number 2-10, as a string or a number),
`size` (`WxH`, one of the model's exact output sizes) and `input_reference` (each a reference image or video;
Image 1, Image 2 ... / Video 1 ... in the prompt, counted by kind as in wan2.7). r2v's extension fields, where
OpenAI's shape has no room: `first_frame` (wan2.7), `reference_voice_<n>` (a voice for the n-th reference),
`negative_prompt`, `prompt_extend`, `watermark`, `seed`. A storyboard grid needs no field: a request whose only
reference is one grid picture is read as one. Form fields arrive as strings, so numbers and booleans are
accepted in their text form too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from r2v.errors import ApiError, invalid
from r2v.protocol import catalog, fields
from r2v.protocol.job import FIRST_FRAME, REFERENCE, REFERENCE_IMAGE, REFERENCE_VIDEO

DEFAULT_MODEL = "wan2.7-r2v"
DEFAULT_SECONDS = 4  # OpenAI's default
DEFAULT_SIZE = "1280x720"
MAX_VOICES = 5
# Where an uploaded file stands in the DashScope body until the service has stored it (parse_create checks an
# oss:// URL by its shape only).
UPLOAD_PREFIX = "oss://r2v-openai-upload/"

# The sizes each generation renders, as `WxH`, with the DashScope parameters that give them.
SIZES_27: dict[str, tuple[str, str]] = {
    f"{w}x{h}": (resolution, ratio)
    for resolution, ratios in catalog.SIZES_27.items()
    for ratio, (w, h) in ratios.items()
}
SIZES_26: dict[str, str] = {size.replace("*", "x"): size for size in catalog.SIZES_26}

# DashScope field names in parse_create's messages, as this API spells them.
_FIELD_NAMES = {
    "input.prompt": "prompt",
    "input.negative_prompt": "negative_prompt",
    "parameters.duration": "seconds",
    "parameters.seed": "seed",
    "parameters.watermark": "watermark",
    "parameters.prompt_extend": "prompt_extend",
    "parameters.size": "size",
    "parameters.resolution": "size",
    "parameters.ratio": "size",
    "input.media": "input_reference",
    "input.reference_urls": "input_reference",
    "input.reference_video_urls": "input_reference",
}


@dataclass
class Reference:
    """One reference as the request gave it: `kind` image or video; `url` a URL, or UPLOAD_PREFIX + n for an
    uploaded file; `field` the request field, for messages."""

    kind: str
    url: str
    field: str
    voice_url: str | None = None


@dataclass
class Mapped:
    body: dict  # a DashScope create body
    field_names: dict[str, str] = field(default_factory=dict)  # DashScope field -> this API's field

    def rename(self, exc: ApiError) -> ApiError:
        """parse_create's error with the field named as this API names it."""
        head, sep, rest = exc.message.partition(": ")
        name = self.field_names.get(head) or _FIELD_NAMES.get(head)
        if not sep or name is None:
            return exc
        return ApiError(exc.status, exc.code, f"{name}: {rest}")


def model_of(values: dict) -> catalog.ModelInfo:
    model = values.get("model")
    if model is None or model == "":
        model = DEFAULT_MODEL
    info = catalog.MODELS.get(model) if isinstance(model, str) else None
    if info is None:
        raise invalid("model", f"must be one of {', '.join(catalog.MODELS)}, got {model!r}")
    return info


def seconds_of(values: dict) -> int:
    value = values.get("seconds")
    if value is None or value == "":
        return DEFAULT_SECONDS
    text = str(value).strip() if not isinstance(value, bool) else ""
    lo, hi = catalog.MIN_DURATION, catalog.MAX_DURATION
    number = fields.whole_number(text)
    if number is None or not lo <= number <= hi:
        raise invalid("seconds", f"must be a whole number of seconds from {lo} to {hi}, got {value!r}")
    return int(text)


def sizes_for(info: catalog.ModelInfo) -> list[str]:
    return list(SIZES_27 if info.generation == catalog.GEN_27 else SIZES_26)


def size_of(values: dict, info: catalog.ModelInfo) -> str:
    value = values.get("size")
    if value is None or value == "":
        return DEFAULT_SIZE
    allowed = sizes_for(info)
    if value not in allowed:
        raise invalid("size", f"must be one of {', '.join(allowed)} for {info.name}, got {value!r}")
    return value


def to_dashscope(values: dict, references: list[Reference], first_frame: str | None, region: str) -> Mapped:
    """The DashScope create body of an OpenAI-style create. `values` holds the plain fields (JSON values, or form
    strings); references and the first frame come as URLs (uploads as UPLOAD_PREFIX + n)."""
    prompt = values.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("prompt", "is required: a non-empty string")
    info = model_of(values)
    if region not in info.regions:
        raise invalid("model", f"{info.name} is not served in {region}")
    seconds, size = seconds_of(values), size_of(values, info)
    params: dict[str, Any] = {"duration": seconds}
    for name in ("watermark", "prompt_extend"):
        if values.get(name) not in (None, ""):
            params[name] = _bool(values[name], name)
    if values.get("seed") not in (None, ""):
        params["seed"] = _int(values["seed"], "seed")
    inp: dict[str, Any] = {"prompt": prompt}
    if isinstance(values.get("negative_prompt"), str) and values["negative_prompt"]:
        inp["negative_prompt"] = values["negative_prompt"]
    if not references:
        raise invalid("input_reference", "at least one reference image or video is required (r2v makes videos of them)")
    names: dict[str, str] = {}
    if info.generation == catalog.GEN_27:
        resolution, ratio = SIZES_27[size]
        params.update(resolution=resolution, ratio=ratio)
        media: list[dict] = []
        if first_frame is not None:
            names[f"input.media[{len(media)}].url"] = "first_frame"
            media.append({"type": FIRST_FRAME, "url": first_frame})
        for n, ref in enumerate(references, start=1):
            names[f"input.media[{len(media)}].url"] = ref.field
            item = {"type": REFERENCE_VIDEO if ref.kind == "video" else REFERENCE_IMAGE, "url": ref.url}
            if ref.voice_url is not None:
                names[f"input.media[{len(media)}].reference_voice"] = f"reference_voice_{n}"
                item["reference_voice"] = ref.voice_url
            media.append(item)
        inp["media"] = media
    else:
        if first_frame is not None:
            raise invalid("first_frame", f"{info.name} takes no first frame (wan2.7 models do)")
        if any(ref.voice_url for ref in references):
            raise invalid("reference_voice_1", f"{info.name} takes no reference voices (wan2.7 models do)")
        params["size"] = SIZES_26[size]
        images = [r for r in references if r.kind != "video"]
        videos = [r for r in references if r.kind == "video"]
        inp["reference_urls"] = [r.url for r in images]
        inp["reference_video_urls"] = [r.url for r in videos]
        names.update({f"input.reference_urls[{i}]": r.field for i, r in enumerate(images)})
        names.update({f"input.reference_video_urls[{i}]": r.field for i, r in enumerate(videos)})
    return Mapped(body={"model": info.name, "input": inp, "parameters": params}, field_names=names)


def reference_kind(spec_kind: str) -> str:
    """A stored reference's kind as this API counts it."""
    return "video" if spec_kind == REFERENCE_VIDEO else "image" if spec_kind in (REFERENCE_IMAGE, REFERENCE) else ""


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(name, f"must be true or false, got {value!r}")


def _int(value: Any, name: str) -> int:
    text = str(value).strip() if not isinstance(value, bool) else ""
    number = fields.whole_number(text)
    if number is None or number > catalog.MAX_SEED:
        raise invalid(name, f"must be a whole number from 0 to {catalog.MAX_SEED}, got {value!r}")
    return int(text)

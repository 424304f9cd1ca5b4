"""The normalized form of an accepted create request: what is stored with the task and what the worker runs.

Both wire protocols (wan2.7 `media`, wan2.6 `reference_urls`) are parsed into this one shape, so nothing past
the HTTP layer needs to know which protocol a task came in by.

The stored form carries a version (SPEC_VERSION). A task accepted by an older r2v and still PENDING when a newer
one starts is read through from_dict, which upgrades every older version it knows; a version newer than the code
is refused (a worker left behind by an upgrade must not guess)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

# 1: r2v 0.1, which stored no version. 2: the same fields, with their version.
SPEC_VERSION = 2

# Asset kinds. REFERENCE is wan2.6's "image or video, told apart by content".
FIRST_FRAME = "first_frame"
REFERENCE_IMAGE = "reference_image"
REFERENCE_VIDEO = "reference_video"
REFERENCE = "reference"


@dataclass
class MediaRef:
    kind: str
    url: str
    field: str  # the request field the url came from, for error messages: "input.media[2].url"
    voice_url: str | None = None
    voice_field: str | None = None
    description: str | None = None


@dataclass
class JobSpec:
    model: str
    generation: str
    prompt: str
    media: list[MediaRef]
    width: int
    height: int
    resolution: str  # "720P" | "1080P"
    ratio: str | None  # wan2.7; with a first frame it is decided by the worker from the frame's aspect
    duration: int
    seed: int
    negative_prompt: str | None = None
    prompt_extend: bool = True
    watermark: bool = False
    audio: bool = True
    shot_type: str | None = None
    size_from_first_frame: bool = False
    extras: dict = field(default_factory=dict)

    @property
    def first_frame(self) -> MediaRef | None:
        return next((m for m in self.media if m.kind == FIRST_FRAME), None)

    @property
    def references(self) -> list[MediaRef]:
        return [m for m in self.media if m.kind != FIRST_FRAME]

    def to_dict(self) -> dict:
        return {"version": SPEC_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> JobSpec:
        """A stored job of any version up to SPEC_VERSION (ValueError for a newer or unreadable one)."""
        data = dict(data)
        version = data.pop("version", 1)
        if not isinstance(version, int) or version > SPEC_VERSION:
            raise ValueError(f"the job was stored by a newer r2v (format {version}; this one reads {SPEC_VERSION})")
        # Versions 1 and 2 hold the same fields. A later version adds its upgrade of the older data here, so that
        # what follows always sees the current fields; fields a version dropped are not carried over.
        try:
            data["media"] = [MediaRef(**_known(MediaRef, m)) for m in data["media"]]
            return cls(**_known(cls, data))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"the stored job (format {version}) cannot be read: {exc}") from None


def _known(kind: type, data: dict) -> dict:
    names = {f.name for f in fields(kind)}
    return {k: v for k, v in data.items() if k in names}

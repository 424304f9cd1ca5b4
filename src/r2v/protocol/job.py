"""The normalized form of an accepted create request: what is stored with the task and what the worker runs.

Both wire protocols (wan2.7 `media`, wan2.6 `reference_urls`) are parsed into this one shape, so nothing past
the HTTP layer needs to know which protocol a task came in by.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> JobSpec:
        data = dict(data)
        data["media"] = [MediaRef(**m) for m in data["media"]]
        return cls(**data)

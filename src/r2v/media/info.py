"""What probing found out about an input file: a plain record, importable without any decoder."""

from __future__ import annotations

from dataclasses import dataclass

from r2v.media.sniff import IMAGE_FORMATS, VIDEO_FORMATS


@dataclass
class MediaInfo:
    format: str
    size_bytes: int
    width: int = 0
    height: int = 0
    duration_s: float = 0.0
    has_video: bool = False
    has_audio: bool = False

    @property
    def kind(self) -> str:
        if self.format in IMAGE_FORMATS:
            return "image"
        return "video" if self.format in VIDEO_FORMATS else "audio"

"""Reference tokens in prompts: 图N / 视频N / Image N / Video N (wan2.7) and characterN (wan2.6)."""

from __future__ import annotations

import re

_IMAGE = (re.compile(r"图(?:片)?\s*(\d+)"), re.compile(r"(?i)\b(?:image|img)\s*#?\s*(\d+)"))
_VIDEO = (re.compile(r"视频\s*(\d+)"), re.compile(r"(?i)\bvideo\s*#?\s*(\d+)"))
_CHARACTER = re.compile(r"(?i)character\s*(\d+)")


def _numbers(patterns, text: str) -> list[int]:
    found: list[int] = []
    for pattern in patterns:
        found += [int(m.group(1)) for m in pattern.finditer(text)]
    return found


def image_refs(prompt: str) -> list[int]:
    return _numbers(_IMAGE, prompt)


def video_refs(prompt: str) -> list[int]:
    return _numbers(_VIDEO, prompt)


def character_refs(prompt: str) -> list[int]:
    return _numbers((_CHARACTER,), prompt)


def missing_reference(prompt: str, images: int, videos: int) -> str | None:
    """A description of the first wan2.7 reference the prompt names that the request lacks, else None."""
    for n in image_refs(prompt):
        if not 1 <= n <= images:
            return f"the prompt names image {n} (图{n}), but the request has {images} reference_image item(s)"
    for n in video_refs(prompt):
        if not 1 <= n <= videos:
            return f"the prompt names video {n} (视频{n}), but the request has {videos} reference_video item(s)"
    return None


def missing_character(prompt: str, references: int) -> str | None:
    for n in character_refs(prompt):
        if not 1 <= n <= references:
            return f"the prompt names character{n}, but reference_urls has {references} item(s)"
    return None

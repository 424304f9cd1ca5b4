"""What an input file is (decided by its bytes, not its name or header), probed with PyAV, and the spec's
limits for each kind of input."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

from r2v.errors import INVALID_PARAMETER, UNSUPPORTED_FILE_FORMAT, TaskFailure
from r2v.media.info import MediaInfo
from r2v.media.sniff import AUDIO_FORMATS, IMAGE_FORMATS, VIDEO_FORMATS, sniff

MB = 1024 * 1024
IMAGE_MAX_BYTES, VIDEO_MAX_BYTES, AUDIO_MAX_BYTES = 20 * MB, 100 * MB, 15 * MB
IMAGE_SIDE = (240, 8000)
VIDEO_SIDE = (240, 4096)
VIDEO_SECONDS = (1.0, 30.0)
AUDIO_SECONDS = (1.0, 10.0)
MAX_ASPECT = 8.0


def probe(path: Path, field: str) -> MediaInfo:
    """What the file is and its declared geometry and length. Sizes are read from headers first; a file is
    decoded (to prove it is not truncated or corrupt) only when they are within the largest limit, so a header
    declaring 100000x100000 pixels is refused without allocating them. Run it through media/sandbox.py for
    untrusted files."""
    fmt = sniff(path)
    if fmt is None:
        raise TaskFailure(UNSUPPORTED_FILE_FORMAT, f"{field}: unrecognised file format")
    info = MediaInfo(format=fmt, size_bytes=path.stat().st_size)
    try:
        if fmt in IMAGE_FORMATS:
            _probe_image(path, info)
        else:
            _probe_av(path, info)
    except (av.error.FFmpegError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise TaskFailure(UNSUPPORTED_FILE_FORMAT, f"{field}: the {fmt} file cannot be decoded ({exc})") from None
    return info


def _within_limits(info: MediaInfo) -> bool:
    largest = max(IMAGE_SIDE[1], VIDEO_SIDE[1])
    return 0 < info.width <= largest and 0 < info.height <= largest


def _probe_image(path: Path, info: MediaInfo) -> None:
    Image.MAX_IMAGE_PIXELS = None  # r2v's own side limits apply, checked on the header before any decoding
    with Image.open(path) as image:  # reads the header only
        info.width, info.height = image.size
        info.has_video = True
        if _within_limits(info):
            image.load()  # a truncated or corrupt image fails here


def _probe_av(path: Path, info: MediaInfo) -> None:
    # Small probe budgets: the header is all that is needed, and a hostile file cannot make the probe read far.
    with av.open(str(path), options={"probesize": str(8 * MB), "analyzeduration": "5000000"}) as container:
        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None)
        info.has_video, info.has_audio = video is not None, audio is not None
        if video is not None:
            info.width, info.height = video.codec_context.width, video.codec_context.height
        if container.duration:
            info.duration_s = container.duration / av.time_base
        elif video is not None and video.duration and video.time_base:
            info.duration_s = float(video.duration * video.time_base)
        elif audio is not None and audio.duration and audio.time_base:
            info.duration_s = float(audio.duration * audio.time_base)
        stream = video if video is not None else audio
        if stream is None or (video is not None and not _within_limits(info)):
            return
        for _ in container.decode(stream):  # one decoded frame proves the stream is real
            return
        raise ValueError(f"the {stream.type} stream holds no decodable frame")


def _bad(field: str, reason: str) -> TaskFailure:
    return TaskFailure(INVALID_PARAMETER, f"{field}: {reason}")


@dataclass(frozen=True)
class Limits:
    """The spec's limits for one kind of input."""

    noun: str
    formats: tuple[str, ...]
    format_names: str
    max_bytes: int
    sides: tuple[int, int] | None = None
    seconds: tuple[float, float] | None = None


LIMITS = {
    "image": Limits("image", IMAGE_FORMATS, "JPEG, PNG, BMP, WEBP", IMAGE_MAX_BYTES, IMAGE_SIDE),
    "video": Limits("video", VIDEO_FORMATS, "MP4, MOV", VIDEO_MAX_BYTES, VIDEO_SIDE, VIDEO_SECONDS),
    "audio": Limits("audio", AUDIO_FORMATS, "WAV, MP3", AUDIO_MAX_BYTES, None, AUDIO_SECONDS),
}


def check(info: MediaInfo, field: str, kind: str) -> None:
    """Refuse an input that is not a `kind` ("image", "video", "audio") within the spec's limits."""
    limits = LIMITS[kind]
    if info.format not in limits.formats:
        raise TaskFailure(
            UNSUPPORTED_FILE_FORMAT, f"{field}: expected {limits.noun} ({limits.format_names}), got {info.format}"
        )
    if info.size_bytes > limits.max_bytes:
        raise _bad(field, f"{limits.noun} is larger than {limits.max_bytes // MB} MB")
    if not (info.has_audio if kind == "audio" else info.has_video):
        stream = "audio" if kind == "audio" else "video"
        raise TaskFailure(UNSUPPORTED_FILE_FORMAT, f"{field}: the file has no {stream} stream")
    if limits.sides:
        _check_sides(info, field, limits.noun, *limits.sides)
    if limits.seconds:
        lo, hi = limits.seconds
        if not lo <= info.duration_s <= hi:
            raise _bad(field, f"{limits.noun} duration {info.duration_s:.2f} s is outside {lo:.0f}..{hi:.0f} s")


def _check_sides(info: MediaInfo, field: str, what: str, lo: int, hi: int) -> None:
    for side, value in (("width", info.width), ("height", info.height)):
        if value < lo:
            raise _bad(field, f"{what} {side} {value} px is below the minimum {lo} px")
        if value > hi:
            raise _bad(field, f"{what} {side} {value} px is above the maximum {hi} px")
    aspect = info.width / info.height
    if aspect > MAX_ASPECT or aspect < 1 / MAX_ASPECT:
        raise _bad(field, f"{what} aspect ratio {info.width}:{info.height} is outside 1:8..8:1")

"""What a file is, decided by its first bytes (not its name or a Content-Type header). No decoder involved, so
the HTTP layer can use it without importing PyAV."""

from __future__ import annotations

from pathlib import Path

IMAGE_FORMATS = ("jpeg", "png", "bmp", "webp")
VIDEO_FORMATS = ("mp4", "mov")
AUDIO_FORMATS = ("wav", "mp3")


def sniff(path: Path) -> str | None:
    """The container format from magic bytes: one of the *_FORMATS above, or None."""
    with open(path, "rb") as f:
        return sniff_bytes(f.read(64))


def sniff_bytes(head: bytes) -> str | None:
    """sniff() of a file's first bytes (64 are enough), for data already in memory."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"BM") and len(head) > 14:
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp":
        return "mov" if head[8:10] == b"qt" else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None

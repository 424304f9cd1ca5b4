"""A finished video's previews, made once beside it: a thumbnail (one frame, full size, WebP) and a spritesheet
(frames spread over the whole video, as a grid of small tiles, JPEG). The OpenAI-style API serves them as the
`thumbnail` and `spritesheet` variants of a video's content."""

from __future__ import annotations

import math
from pathlib import Path

import av
from PIL import Image

SHEET_FRAMES = 10
SHEET_COLUMNS = 5
TILE_WIDTH = 256


def make_previews(video: Path, folder: Path) -> dict[str, Path]:
    """{"thumbnail": <.webp>, "spritesheet": <.jpg>} written into `folder`, from one pass over the video."""
    frames = _sampled_frames(video, SHEET_FRAMES)
    thumbnail = folder / "thumbnail.webp"
    # The frame a third of the way in: past a fade-in, and likely to show the scene's people.
    frames[len(frames) // 3].save(thumbnail, "WEBP", quality=80)
    sheet = folder / "spritesheet.jpg"
    _grid(frames).save(sheet, "JPEG", quality=85)
    return {"thumbnail": thumbnail, "spritesheet": sheet}


def _sampled_frames(video: Path, count: int) -> list[Image.Image]:
    """`count` frames spread evenly over the video (fewer if it has fewer), decoded in one streamed pass."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        total = stream.frames or 0
        if total <= 0:  # a container that does not say: count them first
            total = sum(1 for _ in container.decode(stream))
            container.seek(0)
        wanted = {min(total - 1, (2 * i + 1) * total // (2 * count)) for i in range(count)}
        frames = [f.to_image() for n, f in enumerate(container.decode(stream)) if n in wanted]
    if not frames:
        raise ValueError(f"no decodable frames in {video}")
    return frames


def _grid(frames: list[Image.Image]) -> Image.Image:
    width = TILE_WIDTH
    height = max(2, round(frames[0].height * width / frames[0].width))
    columns = min(SHEET_COLUMNS, len(frames))
    rows = math.ceil(len(frames) / columns)
    sheet = Image.new("RGB", (columns * width, rows * height))
    for i, frame in enumerate(frames):
        sheet.paste(
            frame.resize((width, height), Image.Resampling.BILINEAR), ((i % columns) * width, (i // columns) * height)
        )
    return sheet

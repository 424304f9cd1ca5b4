"""Decoding inputs with PyAV: still images, video frames resampled to 30 fps, and sound at 48 kHz stereo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from r2v.render.encoder import AUDIO_RATE, FPS


def read_image(path: Path) -> np.ndarray:
    """The first frame of an image file as RGB uint8."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise ValueError(f"no picture in {path}")


def video_frames(path: Path, count: int, max_side: int) -> Iterator[np.ndarray]:
    """`count` RGB frames of a video sampled at 30 fps from its start, looping when it is shorter, each scaled
    so that its longer side is at most `max_side` (decoding is streamed: memory stays one frame)."""
    produced = 0
    while produced < count:
        last = None
        looped_any = False
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            next_time = 0.0
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t = frame.time - (stream.start_time or 0) * float(stream.time_base or 0)
                scale = min(1.0, max_side / max(frame.width, frame.height))
                width = max(2, int(frame.width * scale) // 2 * 2)
                height = max(2, int(frame.height * scale) // 2 * 2)
                # Emit this frame for every 30 fps tick it covers (duplicates for slow sources, drops for fast).
                while next_time <= t + 1e-6 and produced < count:
                    last = frame.to_ndarray(format="rgb24", width=width, height=height)
                    yield last
                    looped_any = True
                    produced += 1
                    next_time += 1.0 / FPS
                if produced >= count:
                    return
        if not looped_any:
            raise ValueError(f"no decodable frames in {path}")


def read_audio(path: Path, max_seconds: float | None = None) -> np.ndarray:
    """The first audio stream as float32 (n, 2) at 48 kHz; an empty array when the file has no sound."""
    chunks = []
    limit = int(max_seconds * AUDIO_RATE) if max_seconds else None
    total = 0
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros((0, 2), np.float32)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
                total += out.samples
            if limit is not None and total >= limit:
                break
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    if not chunks:
        return np.zeros((0, 2), np.float32)
    samples = np.concatenate(chunks, axis=1).T.astype(np.float32)
    return samples[:limit] if limit is not None else samples

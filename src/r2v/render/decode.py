"""Decoding inputs with PyAV: still images, video frames resampled to 30 fps, and sound at 48 kHz stereo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from r2v.render.encoder import AUDIO_RATE, FPS


def read_image(path: Path) -> np.ndarray:
    """The first frame of an image file as RGB uint8."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise ValueError(f"no picture in {path}")


def video_frames(path: Path, count: int, max_side: int, step: int = 1) -> Iterator[np.ndarray]:
    """`count` RGB frames of a video sampled at 30 fps from its start (every `step`-th of them), looping when it
    is shorter, each scaled so that its longer side is at most `max_side` (decoding is streamed: memory stays
    one frame; frames between samples are decoded, not converted)."""
    produced = 0
    while produced < count:
        looped_any = False
        for rgb in _one_pass(path, count - produced, max_side, step):
            yield rgb
            looped_any = True
            produced += 1
        if not looped_any:
            raise ValueError(f"no decodable frames in {path}")


def video_loop(path: Path, max_side: int, limit: int) -> list[np.ndarray] | None:
    """The frames of one pass over a clip of at most `limit` frames at 30 fps (what video_frames repeats when it
    loops), or None when the clip is longer: a caller that needs it many times over works each frame once."""
    frames = list(_one_pass(path, limit + 1, max_side, 1))
    return frames if 0 < len(frames) <= limit else None


def _one_pass(path: Path, count: int, max_side: int, step: int) -> Iterator[np.ndarray]:
    """At most `count` frames of one pass over the clip, one per 30 fps tick it covers (duplicates for slow
    sources, drops for fast ones)."""
    produced = 0
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
            while next_time <= t + 1e-6 and produced < count:
                yield _rgb(frame, width, height)
                produced += 1
                next_time += step / FPS
            if produced >= count:
                return


# colorspace values (AVColorSpace) that mean BT.601 or "unspecified", which players take as BT.601 at these sizes
_BT601 = {2, 5, 6}
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


def _rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The frame as RGB at width x height. The usual case (8-bit 4:2:0, BT.601, limited range) is converted and
    scaled by OpenCV, two to three times faster than libswscale; anything else goes through libswscale."""
    usual = frame.format.name == "yuv420p" and frame.colorspace in _BT601 and frame.color_range != _FULL_RANGE
    if not usual or frame.width % 2 or frame.height % 2:
        return frame.to_ndarray(format="rgb24", width=width, height=height)
    rgb = cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2RGB_I420)
    if (width, height) == (frame.width, frame.height):
        return rgb
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)  # as libswscale's bilinear


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

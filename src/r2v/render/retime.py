"""Frame-rate conversion with motion compensation: a clip generated at its model's native rate (Wan: 16 fps)
becomes exactly `count` frames at 30 fps. An output frame that falls between two source frames is made from both,
each moved along the optical flow between them (OpenCV's DIS flow) to the in-between instant and then blended;
frame repetition would judder, a plain cross-fade would ghost."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

FLOW_SIDE = 512  # flow is estimated at most this size (it is smooth), then scaled up to the frame's


def retime(frames: np.ndarray, source_fps: float, count: int, target_fps: float = 30.0) -> Iterator[np.ndarray]:
    """`count` RGB uint8 frames at target_fps from `frames` (n, h, w, 3) at source_fps, starting together.
    Past the last source frame, the last frame is held."""
    flows: dict[int, np.ndarray] = {}
    last = len(frames) - 1
    for k in range(count):
        position = k * source_fps / target_fps
        i = min(int(np.floor(position + 1e-9)), last)
        a = position - i
        if i >= last or a < 1e-3:
            yield frames[i]
            continue
        if a > 1 - 1e-3:
            yield frames[i + 1]
            continue
        if i not in flows:
            flows = {i: _flow(frames[i], frames[i + 1])}  # each pair serves the 1-2 frames between them
        yield _between(frames[i], frames[i + 1], flows[i], a)


def _flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dense flow from first to second, in pixels of the full frame: (h, w, 2)."""
    h, w = first.shape[:2]
    scale = min(1.0, FLOW_SIDE / max(h, w))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    grey = [cv2.cvtColor(cv2.resize(f, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
            for f in (first, second)]  # fmt: skip
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(grey[0], grey[1], None)
    if scale < 1.0:
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) / scale
    return flow


def _between(first: np.ndarray, second: np.ndarray, flow: np.ndarray, a: float) -> np.ndarray:
    """The frame at fraction a (0..1) of the way from first to second: each warped to that instant along the
    flow and blended by nearness."""
    h, w = first.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    # A point at x in the in-between frame was near x - a*flow in the first and x + (1-a)*flow in the second.
    from_first = cv2.remap(first, grid_x - a * flow[..., 0], grid_y - a * flow[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    from_second = cv2.remap(second, grid_x + (1 - a) * flow[..., 0], grid_y + (1 - a) * flow[..., 1],
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return cv2.addWeighted(from_first, 1 - a, from_second, a, 0)

"""Small picture geometry shared by the engines: cover-fitting."""

from __future__ import annotations

import cv2
import numpy as np


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to fill width x height and crop the middle (area-averaged when shrinking, linear when enlarging)."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y, x = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y : y + height, x : x + width])

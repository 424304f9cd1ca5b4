"""Does a reference picture show a person? A face (OpenCV's bundled Haar frontal-face cascade) or a standing
human figure (OpenCV's HOG people detector), both shipped with opencv-python (cv2.data), nothing downloaded.

The answer is a fact about the picture, made once per reference outside the director (which stays deterministic
and engine-independent) and handed to it through the Cast. The thresholds keep false alarms out: on scikit-image's
sample pictures (coins, the moon, a phantom, a horse, a cat) and on drawn props (a guitar, sunflowers, a room)
the cascade agrees on a face with at most 8 neighbouring windows and the HOG detector scores at most 1.0, while a
real face gathers 10 or more (97 of the first 100 faces of scikit-image's LFW subset) and a figure that fills the
picture scores 3 or more. Drawn cartoon faces are often missed: the prompt can still say who is a person."""

from __future__ import annotations

import threading

import cv2
import numpy as np

FACE_SIDE = 480  # the face cascade runs on the picture scaled to this long side
MIN_FACE_SUPPORT = 10  # neighbouring windows that agree on a face, for it to count as one
FIGURE_SIDE = 160  # the HOG detector's 64x128 window finds a figure that fills a picture of this size
FIGURE_PAD = 24  # a figure cut by the picture's edge still fits the window once padded
MIN_FIGURE_SCORE = 2.0

_FACES = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
_FACES_LOCK = threading.Lock()  # one classifier may not be used by two threads at once (it crashes)
_HOG = cv2.HOGDescriptor()
_HOG.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
_HOG_LOCK = threading.Lock()


def faces(rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], int]]:
    """Every face the cascade finds, as ((x, y, w, h) in the picture's pixels, support), strongest first."""
    scale = min(1.0, FACE_SIDE / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    with _FACES_LOCK:
        found, support = _FACES.detectMultiScale2(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    boxes = [(tuple(int(round(v / scale)) for v in box), int(n)) for box, n in zip(found, support, strict=True)]
    return sorted(boxes, key=lambda item: -item[1])


def find_face(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """The face most windows agreed on (a larger but weaker hit is usually something else, a photo's backdrop),
    however weak: where a cut-out's face is, when it has one."""
    found = faces(rgb)
    return found[0][0] if found else None


def figure_score(rgb: np.ndarray) -> float:
    """The HOG people detector's best score for a figure filling the picture (0 when none)."""
    scale = FIGURE_SIDE / max(rgb.shape[:2])
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    padded = cv2.copyMakeBorder(small, *(FIGURE_PAD,) * 4, cv2.BORDER_REPLICATE)
    with _HOG_LOCK:
        _, scores = _HOG.detectMultiScale(padded, winStride=(8, 8), padding=(8, 8), scale=1.05)
    return float(np.max(scores)) if len(scores) else 0.0


def shows_a_person(rgb: np.ndarray) -> bool:
    """A clear face, or a clear human figure."""
    found = faces(rgb)
    return bool(found and found[0][1] >= MIN_FACE_SUPPORT) or figure_score(rgb) >= MIN_FIGURE_SCORE

"""Matting maths shared by the cut-outs (cutout.py) and the video mattes (matte.py), all in OpenCV:

- key_backdrop: patches of the backdrop that a rough mask took in (the gap between an arm and the body, the rim
  around the outline) keyed out by colour;
- refine: a small mask's outline made exact at full size, where the subject's colour meets the backdrop's;
- foreground: the subject's own colour at its soft edge (an edge pixel is a mix of subject and backdrop), so that
  compositing it onto another place brings none of the old backdrop along.

The foreground colour is Forte & Pitié's blur-fusion estimator ("Approximate Fast Foreground Colour Estimation",
ICIP 2021), two passes of box blurs. pymatting's `estimate_foreground_ml` does the same job a little more exactly,
but it needs numba and llvmlite (about 210 MB installed, over a second to import, a compile of minutes the first
time ever) and takes 0.3-0.6 s per 1080x720 cut-out on this machine's cores, against about 30 ms here: too heavy
for the embedded default."""

from __future__ import annotations

import cv2
import numpy as np

KEY_COLOURS = 6  # the backdrop around a subject, as this many colours (k-means)
KEY_DISTANCE = 20.0  # RGB distance to one of them that counts as backdrop (drawn skin is 30 from a beige wall)
KEY_SPECK = 4  # keyed patches smaller than this many pixels (of the small mask) are left: noise, not a gap
CONTRAST = 25.0  # RGB distance under which subject and backdrop are too alike to tell apart by colour
EDGE = (0.004, 0.996)  # alpha strictly between these: an edge pixel, a mix of subject and backdrop


def key_backdrop(small: np.ndarray, fg: np.ndarray, face: tuple[int, int, int, int] | None) -> np.ndarray:
    """`fg` (0/1 uint8 over the RGB picture `small`) without the parts that have the colour of the backdrop
    around it, and not of the subject's own: gaps inside the outline and rims along it. A face is never keyed
    (a white of the eye may match a white wall)."""
    outside = cv2.erode(1 - fg, np.ones((3, 3), np.uint8)) > 0  # clear of the outline's mixed pixels
    inside = fg > 0
    if outside.sum() < KEY_COLOURS or inside.sum() < KEY_COLOURS:
        return fg
    near_backdrop = distance(small, colours(small[outside][::5], KEY_COLOURS))  # every 5th: enough for k-means
    own = inside & (near_backdrop >= KEY_DISTANCE)
    if own.sum() < KEY_COLOURS:
        return fg
    near_own = distance(small, colours(small[own][::5], KEY_COLOURS))
    keyed = (inside & (near_backdrop < KEY_DISTANCE) & (near_backdrop < near_own)).astype(np.uint8)
    if face is not None:
        x, y, w, h = face
        keyed[max(0, y) : y + h, max(0, x) : x + w] = 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(keyed, connectivity=4)
    specks = 1 + np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < KEY_SPECK)
    keyed[np.isin(labels, specks)] = 0
    return fg & (1 - keyed)


def refine(rgb: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """Alpha (0..1 float32) at `rgb`'s size from a small 0/1 mask: certain well inside and well outside the
    mask's outline, and in the band between (as wide as the small mask is coarse) the share of the subject's
    colour in each pixel, against the mean certain colours on either side near it. Where those two are too alike
    to tell apart, the small mask's own soft outline is kept. Only the band's pixels are worked out one by one."""
    h, w = rgb.shape[:2]
    coarse = fg.shape[1] / w
    solid = (cv2.resize(fg * 255, (w, h), interpolation=cv2.INTER_LINEAR) > 127).astype(np.uint8)
    reach = max(2, int(np.ceil(1.5 / coarse)))  # how far the small mask's outline may be off, in pixels
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    sure_fg = cv2.erode(solid, disc)
    sure_bg = 1 - cv2.dilate(solid, disc)
    alpha = sure_fg.astype(np.float32)
    ys, xs = np.nonzero((sure_fg | sure_bg) == 0)
    if not len(ys):
        return alpha
    means = []
    for sure in (sure_fg, sure_bg):  # near each pixel; where nothing is sure near it (a narrow gap), further out
        (mean, weight), (wider, wider_weight) = _means_near(rgb, sure, 2 * reach + 5, ys, xs)
        near = weight > 0.02
        means.append((np.where(near[:, None], mean, wider), np.where(near, weight, wider_weight)))
    (f_mean, f_weight), (b_mean, b_weight) = means
    pixels = rgb[ys, xs].astype(np.float32)
    span = f_mean - b_mean
    contrast = (span * span).sum(axis=1)
    share = np.clip(((pixels - b_mean) * span).sum(axis=1) / np.maximum(contrast, 1e-6), 0, 1)
    known = (f_weight > 0.02) & (b_weight > 0.02) & (contrast > CONTRAST**2)
    # the fallback: the small mask's outline, softened by about its own coarseness, read at the band's pixels
    soft = cv2.GaussianBlur(fg.astype(np.float32), (0, 0), 0.5)
    blurred = _sample(soft[..., None], ys, xs, coarse)[:, 0]
    alpha[ys, xs] = np.where(known, share, blurred)
    return cv2.GaussianBlur(alpha, (0, 0), 0.6)  # a pixel's worth of anti-aliasing


def _sample(small: np.ndarray, ys: np.ndarray, xs: np.ndarray, scale: float) -> np.ndarray:
    """Bilinear samples (n, channels) of an array `scale` times a picture's size, at that picture's pixels."""
    count, row = len(ys), 1024  # remap's maps are images, under 32767 on a side: the points in rows
    rows = -(-count // row)
    maps = []
    for values in (xs, ys):
        padded = np.zeros(rows * row, np.float32)
        padded[:count] = (values + 0.5) * scale - 0.5
        maps.append(padded.reshape(rows, row))
    sampled = cv2.remap(small, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return sampled.reshape(rows * row, -1)[:count]


def _means_near(rgb: np.ndarray, sure: np.ndarray, size: int, ys, xs) -> list[tuple[np.ndarray, np.ndarray]]:
    """The mean colour of the `sure` pixels in a box of `size` pixels around each (ys, xs), and their share of
    the box; then the same in a box four times as wide. Local means vary slowly: they are taken at half and at
    an eighth of the size (a quarter of the work, then almost none)."""
    results = []
    h, w = sure.shape
    half = (max(1, w // 2), max(1, h // 2))
    total = cv2.resize(cv2.bitwise_and(rgb, rgb, mask=sure), half, interpolation=cv2.INTER_AREA).astype(np.float32)
    weight = cv2.resize(sure * 255, half, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    for shrink, box in ((2, size), (8, 4 * size)):
        if shrink > 2:
            small = (max(1, w // shrink), max(1, h // shrink))
            total = cv2.resize(total, small, interpolation=cv2.INTER_AREA)
            weight = cv2.resize(weight, small, interpolation=cv2.INTER_AREA)
        k = max(1, round(box / shrink))
        sy, sx = np.minimum(ys // shrink, total.shape[0] - 1), np.minimum(xs // shrink, total.shape[1] - 1)
        near_total, near_weight = cv2.blur(total, (k, k))[sy, sx], cv2.blur(weight, (k, k))[sy, sx]
        results.append((near_total / np.maximum(near_weight, 1e-6)[:, None], near_weight))
    return results


def foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The subject's own colour under `alpha` (uint8 RGB): blur-fusion, a wide pass then a narrow one. Only edge
    pixels change (elsewhere the colour is the picture's or does not show). The wide pass's blurs, smooth, are
    taken at a quarter of the size; its backdrop colour, smooth too, stands for the narrow pass's."""
    ys, xs = np.nonzero(cv2.inRange(alpha, EDGE[0], EDGE[1]))
    if not len(ys):
        return rgb
    h, w = alpha.shape
    a = alpha.astype(np.float32)
    # pass 1 (wide, radius ~6% of the picture): mean subject and backdrop colours around each pixel
    quarter = max(1, min(4, min(h, w) // 64))
    small_size = (max(1, w // quarter), max(1, h // quarter))
    a_small = cv2.resize(a, small_size, interpolation=cv2.INTER_AREA)
    i_small = cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    wide = max(3, round(0.06 * min(h, w) / quarter))
    f1, b1 = _fuse(i_small, a_small[..., None], i_small, i_small, wide)
    f1, b1 = _sample(f1, ys, xs, 1 / quarter), _sample(b1, ys, xs, 1 / quarter)
    # pass 2 (narrow): pass 1's subject colours blurred around each edge pixel (its backdrop's already are)
    edge_a = a[ys, xs][:, None]
    pixels = rgb[ys, xs].astype(np.float32) / 255
    f1 = np.clip(f1 + edge_a * (pixels - edge_a * f1 - (1 - edge_a) * b1), 0, 1)
    a8 = cv2.convertScaleAbs(a, alpha=255.0)
    f_times_a = cv2.multiply(rgb, cv2.merge([a8, a8, a8]), scale=1 / 255)  # 8-bit: a level off at most
    f_times_a[ys, xs] = np.clip(f1 * edge_a * 255 + 0.5, 0, 255).astype(np.uint8)
    size = (5, 5)
    blurred_a = cv2.blur(a, size)[ys, xs][:, None]
    f2 = cv2.blur(f_times_a, size)[ys, xs].astype(np.float32) / 255 / (blurred_a + 1e-5)
    fg = f2 + edge_a * (pixels - edge_a * f2 - (1 - edge_a) * b1)
    out = rgb.copy()
    out[ys, xs] = np.clip(fg * 255 + 0.5, 0, 255).astype(np.uint8)
    return out


def _fuse(image, a, fg, bg, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """One blur-fusion pass over whole arrays: (foreground, blurred background)."""
    size = (radius, radius)
    blurred_a = cv2.blur(a[..., 0], size)[..., None]
    blurred_fg = cv2.blur(fg * a, size) / (blurred_a + 1e-5)
    blurred_bg = cv2.blur(bg * (1 - a), size) / (1 - blurred_a + 1e-5)
    fg = blurred_fg + a * (image - a * blurred_fg - (1 - a) * blurred_bg)
    return np.clip(fg, 0, 1), blurred_bg


def colours(pixels: np.ndarray, count: int) -> np.ndarray:
    """`count` representative colours (k-means, seeded: repeatable) of an (n, 3) uint8 array, as (k, 3) uint8."""
    if len(pixels) < count:
        return pixels.reshape(-1, 3)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, _, centres = cv2.kmeans(pixels.astype(np.float32), count, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    return np.clip(centres.round(), 0, 255).astype(np.uint8)


def distance(image: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Per pixel of an RGB uint8 image, the RGB (Euclidean) distance to the nearest of `colours`."""
    nearest = np.full(image.shape[:2], np.inf, np.float32)
    ones = np.ones((1, 3), np.float32)
    for colour in colours:  # OpenCV, one colour at a time: far faster than numpy broadcasting
        difference = cv2.absdiff(image, (*(float(c) for c in colour), 0.0)).astype(np.float32)
        nearest = np.minimum(nearest, cv2.transform(cv2.multiply(difference, difference), ones))
    return np.sqrt(nearest)

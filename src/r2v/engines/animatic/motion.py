"""Actions drawn: where each placement is at a moment of its shot, in pixels, from the keys the director set
(storyboard.Key), and its cut-out turned (tilted, mirrored) to match.

A key that names another subject is found where that subject is drawn at that moment: a held object sits in its
holder's hand (a point beside the body at about hip height, on the side the holder faces) and so follows it; a
put object rests on the drawn top of its table; someone walking to another ends beside that one's body.
Between two keys the pose is eased. Costs per frame: a few dozen arithmetic operations per subject, and a
cv2.warpAffine of one small sized cut-out every few frames only while its tilt changes (a steady tilt or mirror
image is made once)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from r2v.director.storyboard import Key, Placement, ease
from r2v.engines.animatic.cutout import Cutout
from r2v.engines.animatic.layers import Sized
from r2v.engines.animatic.mouth import Mouth

HAND_OUT, HAND_UP = 0.13, 0.45  # a holder's hand: from its centre line, and above its feet, in its heights
TILT_STEP = 1.5  # degrees between two warps of a turning cut-out
KEPT_TURNS = 10  # turned versions of one layer kept (a rocking wave passes through its few angles again and again)
TALK_LIFT = 0.015  # a talking subject rises this share of the frame's height at full voice
_MAX_DEPTH = 6  # holders of holders: a loop in a plan's keys ends here
Drawn = tuple[Placement, Sized, tuple[int, int]]  # a placement, its layer as drawn, and that layer's top-left corner


@dataclass
class Pose:
    """Where a layer is drawn: the middle of its (turned) bottom edge, its tilt, and whether it is mirrored;
    `facing` is the way it faces now (+1 right, -1 left)."""

    cx: float
    bottom: float
    tilt: float = 0.0
    mirrored: bool = False
    facing: int = 1


class Stage:
    """The placements of one shot, posed frame by frame."""

    def __init__(self, placements: list[Placement], width: int, height: int):
        self.placements = placements
        self._by_label = {p.label: p for p in placements}
        self._width, self._height = width, height
        self._turned: dict[str, tuple] = {}
        self._natural: dict[str, int] = {}
        self._bodies: dict[str, float] = {}

    def frame(self, t: float, sized: dict[str, Sized], levels: dict[str, float]) -> list[Drawn]:
        """(placement, layer to draw, its top-left corner) for each placement at shot time t, given each one's
        sized cut-out and the speech level of whoever talks (it rises a little with its voice)."""
        poses: dict[str, Pose] = {}
        drawn = []
        for placement in self.placements:
            pose = self._pose(placement.label, t, sized, levels, poses, 0)
            layer = self._turn(placement.label, sized[placement.label], pose)
            w, h = layer.size
            drawn.append((placement, layer, (round(pose.cx - w / 2), round(pose.bottom - h))))
        return drawn

    def _pose(self, label: str, t: float, sized: dict[str, Sized], levels: dict[str, float],
              poses: dict[str, Pose], depth: int) -> Pose:  # fmt: skip
        if label in poses:
            return poses[label]
        p = self._by_label[label]
        w, h = sized[label].size
        lift = TALK_LIFT * self._height * levels.get(label, 0.0)
        keys = p.keys or ([Key(0.0, holder=p.held_by)] if p.held_by in self._by_label else [])
        natural = self._facing(label, sized[label])
        if not keys or depth > _MAX_DEPTH:  # no action moves it: its placement and motion alone
            pose = Pose(p.x_at(t) * self._width, p.bottom * self._height - lift, facing=natural)
            poses[label] = pose
            return pose
        k0, k1, share = _bracket(keys, t)
        e = ease(share)
        tilt = k0.tilt + (k1.tilt - k0.tilt) * e
        rw, rh = _turned_size(w, h, tilt)
        a = self._place(p, k0, t, (w, h, rh), lift, sized, levels, poses, depth)
        b = a if k1 is k0 else self._place(p, k1, t, (w, h, rh), lift, sized, levels, poses, depth)
        face = k0.face if e < 0.5 else k1.face
        key = k0 if e < 0.5 else k1
        holder = poses.get(key.holder) if key.holder else None
        if holder is not None:  # an object in the hand turns with its holder
            mirrored, facing = holder.mirrored, holder.facing
        else:
            mirrored, facing = face != 0 and face != natural, face or natural
        drop = (k0.drop + (k1.drop - k0.drop) * e) * h
        pose = Pose(a[0] + (b[0] - a[0]) * e, a[1] + (b[1] - a[1]) * e + drop, tilt, mirrored, facing)
        poses[label] = pose
        return pose

    def _place(self, p: Placement, key: Key, t: float, size: tuple[float, float, float], lift: float,
               sized: dict[str, Sized], levels: dict[str, float], poses: dict[str, Pose],
               depth: int) -> tuple[float, float]:  # fmt: skip
        """(centre x, bottom) of the turned layer that `key` asks for, before any drop."""
        w, _, rh = size
        other = key.holder or key.on or key.near
        if other in self._by_label and other != p.label:
            o = self._pose(other, t, sized, levels, poses, depth + 1)
            ow, oh = sized[other].size
            _, orh = _turned_size(ow, oh, o.tilt)
            if key.holder:  # the hand: beside the centre line, a little below the middle, turned with the body
                dx, dy = o.facing * HAND_OUT * oh, (0.5 - HAND_UP) * oh
                angle = math.radians(o.tilt)
                hx = o.cx + dx * math.cos(angle) + dy * math.sin(angle)
                hy = o.bottom - orh / 2 - dx * math.sin(angle) + dy * math.cos(angle)
                return hx, hy + rh / 2
            if key.on:  # resting on its top
                return o.cx, o.bottom - orh
            if key.gap is None:
                return o.cx, p.bottom * self._height - lift
            reach = (self._body(other, sized[other]) + self._body(p.label, sized[p.label])) / 2 + key.gap * self._height
            return o.cx + key.side * reach, p.bottom * self._height - lift
        return p.x_at(t) * self._width, p.bottom * self._height - lift

    def _body(self, label: str, layer: Sized) -> float:
        """The width of the body, not of its outline: the median opaque span across the lower third of the
        cut-out (a raised arm or a held-out hand widens the outline, not the body that others stand beside)."""
        if label not in self._bodies:
            lower = layer.alpha[layer.alpha.shape[0] * 2 // 3 :, :, 0] > 127
            rows = [np.flatnonzero(row) for row in lower[:: max(1, len(lower) // 16)]]
            spans = [r[-1] - r[0] + 1 for r in rows if len(r)]
            self._bodies[label] = float(np.median(spans)) if spans else float(layer.size[0])
        return self._bodies[label]

    def _facing(self, label: str, layer: Sized) -> int:
        if label not in self._natural:
            placement = self._by_label[label]
            self._natural[label] = facing(layer) or (1 if placement.x <= 0.5 else -1)  # frontal: toward the middle
        return self._natural[label]

    def _turn(self, label: str, layer: Sized, pose: Pose) -> Sized:
        """The layer turned as the pose asks, in TILT_STEP steps: a few warps while it turns (a rocking wave
        reuses its few angles), none while a tilt or a mirror image holds."""
        tilt = round(pose.tilt / TILT_STEP) * TILT_STEP
        if tilt == 0 and not pose.mirrored:
            return layer
        source, kept = self._turned.get(label, (None, {}))
        if source is not layer:  # a new frame of a video, or a new size: the old turns are of no use
            kept = {}
            self._turned[label] = (layer, kept)
        key = (tilt, pose.mirrored)
        if key not in kept:
            if len(kept) >= KEPT_TURNS:
                kept.pop(next(iter(kept)))
            kept[key] = turn(layer, tilt, pose.mirrored)
        return kept[key]


def _bracket(keys: list[Key], t: float) -> tuple[Key, Key, float]:
    """The keys on either side of t and how far t is from the first to the second (0..1)."""
    if t <= keys[0].t:
        return keys[0], keys[0], 0.0
    for k0, k1 in zip(keys, keys[1:], strict=False):
        if t < k1.t:
            return k0, k1, (t - k0.t) / max(1e-6, k1.t - k0.t)
    return keys[-1], keys[-1], 0.0


def _turned_size(w: float, h: float, tilt: float) -> tuple[float, float]:
    c, s = abs(math.cos(math.radians(tilt))), abs(math.sin(math.radians(tilt)))
    return w * c + h * s, w * s + h * c


def turn(layer: Sized, tilt: float, mirrored: bool) -> Sized:
    """The sized cut-out mirrored and/or tilted (degrees, counter-clockwise) on a canvas that holds it whole, made
    from its 8-bit planes as they are (premultiplied colour and alpha turn alike): two warps and one inversion
    for a tilt, plain flips for a mirror image. A mirrored mouth still talks; a tilted one stays closed."""
    rgb, alpha, colour, mouth = layer.rgb, layer.alpha, layer.premultiplied, layer.mouth
    if mirrored:
        rgb, alpha, colour = cv2.flip(rgb, 1), cv2.flip(alpha, 1), cv2.flip(colour, 1)
        if mouth is not None:
            mouth = Mouth(rgb.shape[1] - 1 - mouth.x, mouth.y, mouth.width, mouth.drop, mouth.chin)
    if tilt:
        h, w = alpha.shape[:2]
        rw, rh = (max(1, round(v)) for v in _turned_size(w, h, tilt))
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0)
        matrix[0, 2] += rw / 2 - w / 2
        matrix[1, 2] += rh / 2 - h / 2
        alpha = cv2.warpAffine(alpha, matrix, (rw, rh), flags=cv2.INTER_LINEAR)
        colour = cv2.warpAffine(colour, matrix, (rw, rh), flags=cv2.INTER_LINEAR)
        rgb, mouth = colour, None  # the plain colour is only read to open a mouth
    turned = Sized.__new__(Sized)  # its planes are made here, not from a float alpha
    turned.rgb, turned.alpha, turned.premultiplied, turned.mouth = rgb, alpha, colour, mouth
    turned.inverse = cv2.bitwise_not(alpha)
    return turned


def facing(layer: Sized) -> int:
    """Which way a cut-out faces: +1 right, -1 left, 0 straight at the camera (or unknown). A face turned to one
    side has its mouth off the middle of the head's outline (the run of opaque columns around the mouth, on the
    rows from the eyes down to it: a raised arm beside the head is not part of it), toward that side."""
    mouth = layer.mouth
    if mouth is None:
        return 0
    x = int(mouth.x)
    offsets = []
    for y in np.linspace(mouth.y - 1.5 * mouth.width, mouth.y, 5).astype(int):
        if not (0 <= y < layer.alpha.shape[0] and 0 <= x < layer.alpha.shape[1]):
            continue
        row = layer.alpha[y, :, 0] > 127
        if not row[x]:
            continue
        edges = np.flatnonzero(np.diff(row.astype(np.int8)))  # where the row turns opaque or clear
        left = next((e + 1 for e in edges[::-1] if e < x), 0)
        right = next((e for e in edges if e >= x), len(row) - 1)
        if right - left >= 4:
            offsets.append((x - (left + right) / 2) / ((right - left) / 2))
    if not offsets:
        return 0
    offset = float(np.median(offsets))
    return 0 if abs(offset) < 0.12 else (1 if offset > 0 else -1)


@lru_cache(maxsize=4)
def furniture(kind: str) -> Cutout:
    """A plain table or chair, seen from the front, for a plan that puts something on one or sits on one without
    a reference for it; its top edge is the table's top (where a put object rests)."""
    wood, dark = (150, 100, 60), (110, 70, 40)
    if kind == "table":
        w, h = 420, 250
        rgb = np.zeros((h, w, 3), np.uint8)
        cv2.rectangle(rgb, (0, 0), (w - 1, 34), wood, -1)
        for x in (24, w - 54):
            cv2.rectangle(rgb, (x, 35), (x + 30, h - 1), dark, -1)
    else:  # a chair: a back, a seat at 45% of its height from the floor, four legs
        w, h = 260, 440
        rgb = np.zeros((h, w, 3), np.uint8)
        cv2.rectangle(rgb, (18, 0), (w - 19, 215), dark, -1)
        cv2.rectangle(rgb, (0, 216), (w - 1, 250), wood, -1)
        for x in (10, w - 40):
            cv2.rectangle(rgb, (x, 251), (x + 30, h - 1), dark, -1)
    alpha = (rgb.max(axis=2) > 0).astype(np.float32)
    return Cutout(rgb, alpha, None)

"""The framing fit: the director's placements, refitted once per shot to the frame the render has.

The director places subjects as in a 16:9 frame: x in frame widths, sizes in frame heights. In a narrower frame
(9:16, 3:4, 1:1) those sizes make people wider than their share of the frame, and arms leave it. The fit shrinks
every subject of the shot by one factor (relative sizes stay) and spreads them along the frame, so that each
subject's drawn outline (its cut-out's width, plus what it holds, plus where it stands at rest) lies inside the
frame's sides with a margin, and neighbours overlap no more than the director meant them to. Sizes shrink about
each subject's feet (or the bottom edge that cuts it: a medium shot still cuts at the waist); what is held follows
its holder. Close-ups are meant to be cut by the frame and are left alone. A subject's path (walking past) is
scaled with it; coming in and going out keep their off-frame ends, since crossing an edge is the point of them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from r2v.director.storyboard import CLOSE_UP, EXTREME_CLOSE_UP, Placement

MARGIN = 0.02  # of the frame's width, kept between an outline and a side
DESIGN_ASPECT = 16 / 9  # the frame the director's numbers are meant for
CUT_BY_SIDES = (CLOSE_UP, EXTREME_CLOSE_UP)  # framings that ask for the subject to be cut by the frame


@dataclass
class Framed(Placement):
    """A placement refitted to the frame: its rest position and size changed, its path scaled about it by
    `path_scale` (so whatever asks `x_at` gets the fitted path, whatever motion drew the original's)."""

    source: Placement | None = None
    path_scale: float = 1.0

    def x_at(self, t: float) -> float:
        if self.source is None:
            return super().x_at(t)
        return self.x + self.path_scale * (self.source.x_at(t) - self.source.x)


@dataclass
class _Unit:
    """A subject and what it holds, as extents in pixels at full size around the subject's centre: `left`/
    `right` of its body (neighbours keep off them) and `reach_left`/`reach_right` over its rest positions (the
    frame's sides keep off them)."""

    placement: Placement
    props: list[Placement]
    left: float
    right: float
    reach_left: float
    reach_right: float


def fit(placements: list[Placement], aspects: Mapping[str, float], framing: str, width: int,
        height: int) -> list[Placement]:  # fmt: skip
    """`placements` refitted to a `width` x `height` frame; `aspects` gives each label's drawn width over its
    drawn height (its cut-out's). Returns them in the same order, unchanged where they already fit."""
    if framing in CUT_BY_SIDES or not placements:
        return placements
    units = _units(placements, aspects, width, height)
    if not units:
        return placements
    units.sort(key=lambda u: u.placement.x)
    design_width = max(width, DESIGN_ASPECT * height)
    # gaps[i]: the least distance between the centres of units i and i+1 at full size: their bodies side by side,
    # or closer where the director put them closer than that (someone beside a table, a hug).
    gaps = [max(0.0, min(a.right + b.left, (b.placement.x - a.placement.x) * design_width))
            for a, b in zip(units, units[1:], strict=False)]  # fmt: skip
    margin = MARGIN * width
    room = width - 2 * margin
    widest = max(units[i].reach_left + sum(gaps[i:j]) + units[j].reach_right
                 for i in range(len(units)) for j in range(i, len(units)))  # fmt: skip
    scale = min(1.0, room / widest) if widest > 0 else 1.0
    centres = _spread(units, gaps, scale, width, margin)
    fitted: dict[int, Placement] = {}
    for unit, centre in zip(units, centres, strict=True):
        p = unit.placement
        x = centre / width
        # coming in or going out: from or to wholly off-frame, however wide the subject is against the frame
        path = scale
        if p.motion.startswith(("enter_", "leave_")):
            path = _off_frame(p, x, scale * max(unit.left, unit.right) / width)
        if scale == 1.0 and path == 1.0 and abs(x - p.x) < 1e-6:
            fitted[id(p)] = p
            for prop in unit.props:
                fitted[id(prop)] = prop
            continue
        fitted[id(p)] = _framed(p, x, p.bottom, p.height * scale, path)
        for prop in unit.props:
            fitted[id(prop)] = _framed(prop, x + (prop.x - p.x) * scale, p.bottom + (prop.bottom - p.bottom) * scale,
                                       prop.height * scale, path)  # fmt: skip
    return [fitted.get(id(p), p) for p in placements]


def _off_frame(p: Placement, x: float, half: float) -> float:
    """The path scale that takes an entrance's start (an exit's end) wholly out of the frame: at least 1."""
    outside = p.x_at(0.0 if p.motion.startswith("enter_") else 1.0) - p.x
    if outside < 0:  # by the left edge
        need = (x + half) / -outside
    elif outside > 0:
        need = (1 - x + half) / outside
    else:
        return 1.0
    return max(1.0, need + 0.01)


def _framed(p: Placement, x: float, bottom: float, height: float, path_scale: float) -> Framed:
    source = p.source if isinstance(p, Framed) and p.source is not None else p
    fields = {k: v for k, v in vars(p).items() if k not in ("source", "path_scale")}
    fields.update(x=round(x, 5), bottom=round(bottom, 5), height=round(height, 5))
    return Framed(**fields, source=source, path_scale=path_scale)


def _units(placements: list[Placement], aspects: Mapping[str, float], width: int, height: int) -> list[_Unit]:
    """The shot's placements as units: each one that stands on its own, with what goes with it (what it holds,
    who sits on it or stands centred on it), fitted together."""
    by_label = {p.label: p for p in placements}
    roots = {p.label: _root(p.label, by_label) for p in placements}
    units: dict[str, _Unit] = {}
    for p in placements:
        if roots[p.label] == p.label:
            half = _drawn_width(p, aspects, height) / 2
            units[p.label] = _Unit(p, [], half, half, half, half)
    for p in placements:
        unit = units.get(roots[p.label])
        if unit is None or unit.placement is p:
            continue
        unit.props.append(p)
        offset, half = (p.x - unit.placement.x) * width, _drawn_width(p, aspects, height) / 2
        unit.left, unit.right = max(unit.left, half - offset), max(unit.right, offset + half)
    for unit in units.values():
        rests = _rest_offsets(unit.placement, width)
        unit.reach_left = unit.left + max(0.0, -min(rests))
        unit.reach_right = unit.right + max(0.0, max(rests))
    return list(units.values())


def _root(label: str, by_label: Mapping[str, Placement]) -> str:
    """The placement that `label` goes with: its holder, or what its actions centre it on (a seat it sits on,
    a top it rests on) from the start, and so on up; itself when none."""
    seen = {label}
    while True:
        p = by_label[label]
        anchor = p.held_by
        if anchor is None:
            first = next(iter(getattr(p, "keys", ())), None)
            if first is not None and first.t == 0.0:
                anchor = first.holder or first.on or (first.near if first.gap is None else None)
        if anchor is None or anchor not in by_label or anchor in seen:
            return label
        seen.add(anchor)
        label = anchor


def _drawn_width(p: Placement, aspects: Mapping[str, float], height: int) -> float:
    """The placement's outline width in pixels at full size, turned by the most it is ever tilted."""
    tall = p.height * height
    wide = aspects.get(p.label, 1.0) * tall
    tilt = max((abs(getattr(k, "tilt", 0.0)) for k in getattr(p, "keys", ())), default=0.0)
    if tilt:
        a = math.radians(tilt)
        wide = abs(wide * math.cos(a)) + abs(tall * math.sin(a))
    return wide


def _rest_offsets(p: Placement, width: int) -> list[float]:
    """Where the placement is when at rest, in pixels from its x: where it has come in to, where it stands
    before it goes out, both ends of a walk."""
    if p.motion.startswith("enter_"):
        times = (1.0,)
    elif p.motion.startswith("leave_"):
        times = (0.0,)
    else:
        times = (0.0, 1.0)
    return [(p.x_at(t) - p.x) * width for t in times]


def _spread(units: list[_Unit], gaps: list[float], scale: float, width: int, margin: float) -> list[float]:
    """Centres (pixels) as near the director's as the sides and the gaps at `scale` allow: each clamped inside,
    then pushed right past its left neighbour, then left off its right neighbour and the right side."""
    low = [margin + scale * u.reach_left for u in units]
    high = [width - margin - scale * u.reach_right for u in units]
    centres = [min(max(u.placement.x * width, lo), max(lo, hi)) for u, lo, hi in zip(units, low, high, strict=True)]
    for i in range(1, len(centres)):
        centres[i] = max(centres[i], centres[i - 1] + scale * gaps[i - 1])
    for i in range(len(centres) - 1, -1, -1):
        centres[i] = min(centres[i], high[i])
        if i + 1 < len(centres):
            centres[i] = min(centres[i], centres[i + 1] - scale * gaps[i])
    return centres

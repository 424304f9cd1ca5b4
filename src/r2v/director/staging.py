"""Staging: where each subject of a shot stands and how big, from the framing, the number of subjects, and
what the text says (left/right, walking past, holding). Engine-independent: engines draw what this decides."""

from __future__ import annotations

import re

from r2v.director import dialogue
from r2v.director.cast import Cast
from r2v.director.storyboard import CLOSE, CLOSE_UP, EXTREME_CLOSE_UP, MEDIUM, WIDE, Placement, Shot

# framing -> (height of a standing subject, bottom of its feet), in frame heights
SIZES = {WIDE: (0.55, 0.93), MEDIUM: (0.8, 1.02), CLOSE: (1.1, 1.2), CLOSE_UP: (1.7, 1.75),
         EXTREME_CLOSE_UP: (2.6, 2.7)}  # fmt: skip
PROP_SHARE = 0.4  # a held object's height, relative to its holder's
_WALK = re.compile(r"路过|走过|经过|穿过|走向|跑过|(?i:\b(?:walks?|walking|runs?|running|passes|passing)\b)")
_HOLD = re.compile(r"抱着|拿着|握着|举着|捧着|提着|端着|吃着|弹着|(?i:\b(?:holds?|holding|carries|carrying)\b)")
_LEFT = re.compile(r"左边|左侧|画面左|(?i:\bon the left\b|\bleft side\b)")
_RIGHT = re.compile(r"右边|右侧|画面右|(?i:\bon the right\b|\bright side\b)")


def stage(shot: Shot, cast: Cast, before: str) -> list[Placement]:
    """Placements for `shot.subjects`; `before` is the prompt up to the shot's text (for pronouns)."""
    if not shot.subjects:
        return []
    height, bottom = SIZES[shot.framing]
    text = shot.text
    held = _held(text, cast)
    actors = [label for label in shot.subjects if label not in held] or shot.subjects[:1]
    if shot.framing in (CLOSE_UP, EXTREME_CLOSE_UP):  # one face fills the frame; the rest is left out of it
        speaker = next((line.speaker for line in shot.lines if line.speaker in actors), None)
        actors = [speaker or actors[0]]
    xs = _spread(len(actors), shot.framing)
    for i, label in enumerate(actors):
        side = _side(text, cast, label)
        if side is not None:
            xs[i] = side
    walkers = _walkers(text, cast, before)
    placements = []
    for x, label in zip(xs, actors, strict=True):
        motion = "static"
        if label in walkers:
            motion = "walk_right" if x <= 0.5 else "walk_left"
        placements.append(Placement(label, round(x, 3), bottom, height, motion))
    for label in shot.subjects:
        holder = held.get(label)
        anchor = next((p for p in placements if p.label == holder), None)
        if label in actors or anchor is None:
            continue
        prop_height = anchor.height * PROP_SHARE
        offset = 0.12 * anchor.height * (1 if anchor.x <= 0.5 else -1)
        placements.append(Placement(label, round(min(0.95, max(0.05, anchor.x + offset)), 3),
                                    round(anchor.bottom - anchor.height * 0.3, 3), round(prop_height, 3),
                                    anchor.motion, held_by=holder))  # fmt: skip
    return placements


def _spread(count: int, framing: str) -> list[float]:
    if count == 1:
        return [0.5]
    margin = 0.2 if framing in (WIDE, MEDIUM) else 0.28
    return [margin + (1 - 2 * margin) * i / (count - 1) for i in range(count)]


def _held(text: str, cast: Cast) -> dict[str, str]:
    """{held object: holder} for "X抱着Y", "X holds Y" (X is the clause's subject)."""
    held: dict[str, str] = {}
    for match in _HOLD.finditer(text):
        after = cast.mentions(text[match.end() : match.end() + 12])
        holder = dialogue.clause_subject(text, match.start(), cast)
        if after and holder and after[0].label != holder:
            held[after[0].label] = holder
    return held


def _walkers(text: str, cast: Cast, before: str) -> set[str]:
    walkers = set()
    for match in _WALK.finditer(text):
        subject = dialogue.clause_subject(text, match.start(), cast, before)
        if subject:
            walkers.add(subject)
    return walkers


def _side(text: str, cast: Cast, label: str) -> float | None:
    for mention in cast.mentions(text):
        if mention.label != label:
            continue
        near = text[mention.end : mention.end + 10]
        if _LEFT.search(near):
            return 0.27
        if _RIGHT.search(near):
            return 0.73
    return None

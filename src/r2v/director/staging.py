"""Staging: where each subject of a shot stands and how big, from the framing, the number of subjects, and
what the text says (left/right, near/far, walking past, coming in or going out), then how its actions move it
(blocking.py: held objects in the hand, furniture on the floor, sitting, lying, walking to, hugging, turning).
Engine-independent: engines draw what this decides."""

from __future__ import annotations

import re

from r2v.director import actions, blocking, dialogue
from r2v.director.cast import Cast
from r2v.director.storyboard import CLOSE, CLOSE_UP, EXTREME_CLOSE_UP, MEDIUM, WIDE, Placement, Shot

# framing -> (height of a standing subject, bottom of its feet), in frame heights
SIZES = {WIDE: (0.55, 0.93), MEDIUM: (0.8, 1.02), CLOSE: (1.1, 1.2), CLOSE_UP: (1.7, 1.75),
         EXTREME_CLOSE_UP: (2.6, 2.7)}  # fmt: skip
# Depth: sizes and feet scale about the horizon (an eye line at this height), as in a perspective view.
HORIZON = 0.45
DEPTH_SCALE = {"near": 1.3, "far": 0.6}
_ENGLISH = "(?i:\\b(?:{})\\b)"  # English words, whole, any case
# Crossing the frame (entering, leaving and walking to someone are actions: actions.py)
_WALK = re.compile("路过|走过(?!来)|经过|穿过|跑过(?!来)|"
                   + _ENGLISH.format("walks?|walking|runs?|running|passes|passing"))  # fmt: skip
_FAR = re.compile("远处|远方|远远|后方|背景里|背景中|"
                  + _ENGLISH.format("in the distance|in the background|far away|far off"))  # fmt: skip
_NEAR = re.compile("近处|前景|镜头前|" + _ENGLISH.format("in the foreground|close to the camera|up close"))
_SENTENCE_END = re.compile(r"[。！？!?；;]|\.(?:\s|$)")
_LEFT = re.compile(r"左边|左侧|画面左|(?i:\bon the left\b|\bleft side\b)")
_RIGHT = re.compile(r"右边|右侧|画面右|(?i:\bon the right\b|\bright side\b)")


def stage(shot: Shot, cast: Cast, before: str) -> list[Placement]:
    """Placements for `shot.subjects`; `before` is the prompt up to the shot's text (for pronouns)."""
    if not shot.subjects:
        return []
    height, bottom = SIZES[shot.framing]
    text = shot.text
    done = actions.found(text, cast, before, carry=True)
    held = _held(done, shot.subjects)
    furniture = {f.target for f in done if f.surface and f.target in shot.subjects and f.target not in held}
    actors = [label for label in shot.subjects if label not in held and label not in furniture] or shot.subjects[:1]
    if shot.framing in (CLOSE_UP, EXTREME_CLOSE_UP):  # one face fills the frame; the rest is left out of it
        speaker = next((line.speaker for line in shot.lines if line.speaker in actors), None)
        actors = [speaker or actors[0]]
    xs = _spread(len(actors), shot.framing)
    for i, label in enumerate(actors):
        side = _side(text, cast, label)
        if side is not None:
            xs[i] = side
    movers = {kind: {f.subject for f in done if f.verb == kind} for kind in ("enter", "leave")}
    movers["walk"] = _movers(_WALK, text, cast, before, [f.span for f in done]) - {
        f.subject for f in done if f.verb == "walk_to"
    }
    depths = _depths(text, cast)
    placements = []
    for x, label in zip(xs, actors, strict=True):
        motion = "static"
        side = "left" if x <= 0.5 else "right"
        if label in movers["enter"]:
            motion = f"enter_{side}"
        elif label in movers["leave"]:
            motion = f"leave_{side}"
        elif label in movers["walk"]:
            motion = "walk_right" if side == "left" else "walk_left"
        depth = depths.get(label, "middle")
        scale = DEPTH_SCALE.get(depth, 1.0)
        feet = HORIZON + (bottom - HORIZON) * scale
        placements.append(Placement(label, round(x, 3), round(feet, 3), round(height * scale, 3), motion,
                                    depth=depth))  # fmt: skip
    placed = {p.label: p for p in placements}
    for label in shot.subjects:  # what they hold, at its own size beside them (the engine puts it in the hand)
        anchor = placed.get(held.get(label))
        if label in placed or anchor is None:
            continue
        share = blocking.share(label, before + text, cast, _verbs_of(done, label))
        placed[label] = Placement(label, anchor.x, anchor.bottom, round(anchor.height * share, 3), anchor.motion,
                                  held_by=anchor.label, depth=anchor.depth)  # fmt: skip
    where = blocking.furnish(done, placed, furniture, before + text, cast)
    blocking.block(done, placed, cast, where)
    return list(placed.values())


def _held(done: list[actions.Found], subjects: list[str]) -> dict[str, str]:
    """{object: its first holder} for the objects the shot's actions put in a subject's hand."""
    held: dict[str, str] = {}
    for f in done:
        if f.verb in actions.HANDLED and f.object in subjects and f.object != f.subject and f.subject in subjects:
            held.setdefault(f.object, f.subject)
    return held


def _verbs_of(done: list[actions.Found], label: str) -> set[str]:
    return {f.verb for f in done if f.object == label}


def _spread(count: int, framing: str) -> list[float]:
    if count == 1:
        return [0.5]
    margin = 0.2 if framing in (WIDE, MEDIUM) else 0.28
    return [margin + (1 - 2 * margin) * i / (count - 1) for i in range(count)]


def _movers(pattern: re.Pattern, text: str, cast: Cast, before: str, taken: list[tuple[int, int]]) -> set[str]:
    """The subjects of the clauses where `pattern` (a kind of movement) is said, outside the words an action took."""
    movers = set()
    for match in pattern.finditer(text):
        if any(a <= match.start() < b for a, b in taken):
            continue
        subject = dialogue.clause_subject(text, match.start(), cast, before)
        if subject:
            movers.add(subject)
    return movers


def _depths(text: str, cast: Cast) -> dict[str, str]:
    """{label: "near" | "far"} for "远处的图2", "图2在远处", "Image 2 in the distance": each depth word goes to the
    nearest mention in the same sentence."""
    mentions = cast.mentions(text)
    depths: dict[str, str] = {}
    for depth, pattern in (("near", _NEAR), ("far", _FAR)):
        for match in pattern.finditer(text):

            def between(m, match=match) -> str:  # the text from the mention to the word, either way round
                return text[min(m.end, match.start()) : max(m.start, match.end())]

            def distance(m, match=match) -> int:
                return min(abs(m.start - match.end()), abs(match.start() - m.end))

            same_sentence = [m for m in mentions if not _SENTENCE_END.search(between(m))]
            if same_sentence:
                depths[min(same_sentence, key=distance).label] = depth
    return depths


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

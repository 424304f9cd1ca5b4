"""Blocking: what a shot's actions do to its placements, as keys in shot time (storyboard.Key).

A held object is in its holder's hand at its own believable size (a guitar about half a standing person, a cup
much less: by what the prompt calls it, else a default share); a put object goes from the hand onto the top of
the table it is put on, and the table (or the chair sat on) stands on the floor beside its user, drawn from its
reference when it has one, else by the engine; a given object goes from one hand to the other; sitting lowers
the subject onto the seat, lying down tilts it over, walking to someone ends beside them, a hug ends overlapping
a little, looking or turning to someone faces them (the cut-out is mirrored), pointing leans toward them and
waving rocks a picture (a reference video moves its own arm). Nothing more: a cut-out shows position, size, a
tilt and a mirror image, not a new pose."""

from __future__ import annotations

import re
from dataclasses import replace

from r2v.director.actions import Found
from r2v.director.cast import Cast
from r2v.director.storyboard import Key, Placement

# Heights as shares of a standing person's, by what the thing is called; the first word found decides.
SHARES = [
    (("大提琴", "cello"), 0.7), (("吉他", "琵琶", "guitar", "bass"), 0.55),
    (("小提琴", "尤克里里", "violin", "ukulele"), 0.3),
    (("手机", "杯", "苹果", "橙子", "钥匙", "phone", "cup", "mug", "glass", "apple", "orange", "key"), 0.07),
    (("书", "瓶", "盒", "礼物", "球", "帽", "蛋糕", "信", "book", "bottle", "box", "gift", "present", "ball", "hat",
      "cake", "letter", "vase"), 0.15),
    (("花", "包", "猫", "玩具", "flower", "bouquet", "bag", "cat", "toy"), 0.25),
    (("伞", "剑", "狗", "umbrella", "sword", "dog"), 0.45),
    (("桌", "台", "沙发", "床", "table", "desk", "counter", "sofa", "couch", "bed"), 0.45),
    (("凳", "stool", "bench"), 0.3), (("椅", "chair"), 0.55),
]  # fmt: skip
HELD_SHARE = 0.3  # something held that the prompt does not name
INSTRUMENT_SHARE = 0.55  # something played that the prompt does not name: a guitar's size
FURNITURE_SHARE = {"table": 0.45, "chair": 0.55}
BESIDE = 0.17  # a table's centre from its user's, in frame widths (the user then steps up to it)
SIT_DROP = 0.25  # hips at a seat's height: lowered by this share of the subject's height
HUG_GAP = -0.06  # frame heights between two bodies that hug: overlapping a little
STEP_GAP = 0.03  # beside someone walked to
PLAY_TILT = -50.0  # a long instrument played lies across the body (degrees, clockwise)
WAVE_TILT, POINT_TILT = 6.0, 6.0


def share(label: str, text: str, cast: Cast, verbs: set[str], default: float | None = None) -> float:
    """A thing's height as a share of a standing person's, from what the prompt calls it ("图2是一把吉他", "the
    cup (Image 2)", "Image 3, a table"), else from what is done with it (played: an instrument)."""
    noun = _noun(label, text, cast)
    for words, value in SHARES:
        if noun and any(w in noun for w in words):
            return value
    if default is not None:
        return default
    return INSTRUMENT_SHARE if "play" in verbs else HELD_SHARE


def _noun(label: str, text: str, cast: Cast) -> str | None:
    """The words the prompt uses for a reference right after or before naming it, lower-cased."""
    for mention in cast.mentions(text):
        if mention.label != label:
            continue
        after, before = text[mention.end : mention.end + 30], text[max(0, mention.start - 24) : mention.start]
        zh_after = re.match(r"\s*(?:[（(]|是|为|[:：]|的)\s*([^，,。；;）)]{1,8})", after)
        en_after = re.match(r"(?i)\s*(?:,|\(|\bis\b|\bwas\b|\bshows\b)\s*((?:a|an|the)?\s*[\w\s-]{1,24})", after)
        en_before = re.search(r"(?i)\b((?:a|an|the)\s+[\w-]+(?:\s+[\w-]+)?)\s*(?:\(|\bin\b|\bfrom\b|\bof\b)?\s*$",
                              before)  # fmt: skip
        zh_before = re.search(r"([\u4e00-\u9fff]{1,4})[（(]?\s*$", before)
        for found in (zh_after, en_after, en_before, zh_before):
            if found and any(w in found.group(1).lower() for words, _ in SHARES for w in words):
                return found.group(1).lower()
    return None


def furnish(done: list[Found], placed: dict[str, Placement], furniture: set[str], text: str,
            cast: Cast) -> dict[int, str]:  # fmt: skip
    """The table each put object goes onto and the chair each sitter sits on: its reference when the text puts
    or sits on one, else a table or chair the engine draws, standing on the floor beside (a chair: under) its
    user at a believable size. Returns {index of the action in `done`: the furniture's label}."""
    used: dict[int, str] = {}
    for i, f in enumerate(done):
        user = placed.get(f.subject)
        if user is None or f.verb not in ("put", "sit") or (f.verb == "put" and f.object not in placed):
            continue
        kind = "table" if f.verb == "put" else "chair"
        label = f.target if f.surface and f.target in furniture else kind
        if label not in placed:
            if f.verb == "put":
                anchor = placed.get(f.beside) or user
                towards = (1 if user.x >= anchor.x else -1) if anchor is not user else (1 if user.x <= 0.5 else -1)
                x = min(0.92, max(0.08, anchor.x + towards * BESIDE))
            else:
                anchor, x = user, user.x
            height = user.height * share(label, text, cast, set(), FURNITURE_SHARE[kind])
            placed[label] = Placement(label, round(x, 3), anchor.bottom, round(height, 3), depth=anchor.depth,
                                      drawn=None if label in furniture else kind)  # fmt: skip
        used[i] = label
    return used


def block(done: list[Found], placed: dict[str, Placement], cast: Cast, where: dict[int, str]) -> None:
    """Keys for every placement the actions move, in the order the actions happen."""
    blocker = _Blocker(placed)
    for i, f in sorted(enumerate(done), key=lambda item: (item[1].t0, item[1].position)):
        subject = placed.get(f.subject)
        if subject is None:
            continue
        t0, t1 = f.t0, f.t1
        middle = round((t0 + t1) / 2, 3)
        thing = placed.get(f.object) if f.object else None
        other = placed.get(f.target) if f.target and f.target != f.subject else None
        toward = 1 if other is None else (1 if other.x >= subject.x else -1)  # the side `other` is on
        picture = cast.kind(f.subject) == "image" if f.subject in cast.labels else True
        if f.verb == "pick_up" and thing is not None and thing.held_by:
            blocker.set(thing.label, 0.0, **_on_floor_beside(subject))
            blocker.move(thing.label, t0, t1, holder=subject.label, near=None)
        elif f.verb == "play" and thing is not None and thing.height >= 0.4 * subject.height:
            blocker.move(thing.label, 0.0 if f.state else t0, 0.0 if f.state else t0 + 0.3 * (t1 - t0),
                         tilt=PLAY_TILT)  # fmt: skip
        elif f.verb == "put" and thing is not None and i in where:
            table = placed[where[i]]
            side = 1 if subject.x >= table.x else -1
            blocker.move(f.subject, t0, middle, near=table.label, side=side, gap=-0.02, face=-side)
            blocker.move(thing.label, middle, t1, holder=None, on=table.label)
        elif f.verb == "give" and thing is not None and other is not None:
            side = -toward
            blocker.move(f.subject, t0, middle, near=other.label, side=side, gap=STEP_GAP, face=toward)
            blocker.move(other.label, t0, middle, face=-toward)
            blocker.move(thing.label, middle, t1, holder=other.label)
        elif f.verb == "sit" and i in where:
            blocker.move(f.subject, 0.0 if f.state else t0, 0.0 if f.state else t1, near=where[i], gap=None,
                         drop=SIT_DROP)  # fmt: skip
        elif f.verb == "stand_up":
            if blocker.state(f.subject).drop == 0:  # sat down in an earlier shot
                blocker.set(f.subject, 0.0, drop=SIT_DROP)
            blocker.move(f.subject, t0, t1, drop=0.0)
        elif f.verb == "lie_down":
            tilt = 90.0 if subject.x <= 0.5 else -90.0  # the head toward the nearer edge of the frame
            blocker.move(f.subject, 0.0 if f.state else t0, 0.0 if f.state else t1, tilt=tilt)
        elif f.verb in ("walk_to", "hug") and other is not None:
            gap = HUG_GAP if f.verb == "hug" else STEP_GAP
            blocker.move(f.subject, t0, t1, near=other.label, side=-toward, gap=gap, face=toward)
            if f.verb == "hug":
                blocker.move(other.label, t0, t1, face=-toward)
        elif f.verb == "wave" and picture:
            for k in range(1, 5):  # rocks from side to side, then stands straight again
                blocker.move(f.subject, t0 + (k - 1) * (t1 - t0) / 5, t0 + k * (t1 - t0) / 5,
                             tilt=WAVE_TILT * (1 if k % 2 else -1))  # fmt: skip
            blocker.move(f.subject, t0 + 0.8 * (t1 - t0), t1, tilt=0.0)
        elif f.verb == "point_at" and other is not None:
            lean = -POINT_TILT * toward if picture else 0.0  # the top toward the one pointed at
            blocker.move(f.subject, t0, t0 + 0.3 * (t1 - t0), tilt=lean, face=toward)
            blocker.move(f.subject, t1 - 0.15 * (t1 - t0), t1, tilt=0.0)
        elif f.verb in ("look_at", "turn_to"):
            if other is None and f.verb == "look_at":
                continue
            face = toward if other is not None else (-1 if subject.x <= 0.5 else 1)  # turns round: away
            blocker.move(f.subject, t0, t1, face=face)


def _on_floor_beside(subject: Placement) -> dict:
    return {"holder": None, "on": None, "near": subject.label, "side": 1 if subject.x <= 0.5 else -1, "gap": 0.0}


class _Blocker:
    """Keys appended in time order, each carrying the state before it (position, drop, tilt, facing) with the
    action's changes: a move holds the current state until it starts and reaches the new one when it ends."""

    def __init__(self, placed: dict[str, Placement]):
        self._placed = placed
        self._state: dict[str, Key] = {}

    def state(self, label: str) -> Key:
        if label not in self._state:
            self._state[label] = Key(0.0, holder=self._placed[label].held_by)
        return self._state[label]

    def set(self, label: str, t: float, **changes) -> None:
        if "near" in changes or "on" in changes or "holder" in changes:  # one place at a time
            changes = {"holder": None, "on": None, "near": None, **changes}
        state = self._state[label] = replace(self.state(label), t=round(t, 3), **changes)
        keys = self._placed[label].keys
        if keys and keys[-1].t >= state.t:
            keys[-1] = replace(state, t=keys[-1].t)
        else:
            keys.append(state)

    def move(self, label: str, t0: float, t1: float, **changes) -> None:
        keys = self._placed[label].keys
        if t1 > t0 and not (keys and keys[-1].t >= t0):
            keys.append(replace(self.state(label), t=round(t0, 3)))
        self.set(label, t1, **changes)

"""direct(): prompt + references -> Storyboard. Deterministic and engine-independent."""

from __future__ import annotations

import re

from r2v.director import actions, dialogue, roles, segment, staging, timing, vocabulary
from r2v.director.cast import Cast, aliases
from r2v.director.storyboard import CLOSE, MEDIUM, WIDE, Background, Line, Shot, Storyboard

MIN_SHOT_S = 1.5  # sentences are merged so that no shot is shorter than this
_PLACE_ZH = (
    r"(?:在|于|进|来到|走进|坐在|站在|躺在)\s*{ref}\s*(?:的|里的|中的)?"
    r"[^，。,；;！？]{{0,8}}?(?:上|里|中|内|前|下|外|处|门口)"
)
_PLACE_ZH_2 = r"(?:场景(?:为|是)?|背景(?:为|是)?|以)\s*[:：]?\s*{ref}|{ref}\s*(?:作为|为)\s*(?:场景|背景)"
_PLACE_EN = r"(?i:\b(?:in|inside|at|on|into|within|onto|across)\s+(?:the\s+[\w-]+\s+(?:of|from|in)\s+)?{ref}|" \
            r"against\s+{ref}|{ref}\s+as\s+(?:the\s+)?(?:background|setting|scene))"  # fmt: skip
# "looks at Image 1", "points at Image 2": someone looked at, not a place
_NOT_PLACE = re.compile(r"(?i)\b(?:look|stare|glance|gaze|point|wave|smile|nod|laugh|wink|grin|shout|yell)\w*\s*$")
_PRONOUN_CARRY = re.compile(r"(?i)他们|她们|他|她|它|两人|二人|\b(?:he|she|they|him|her|them|his)\b")


def direct(prompt: str, cast: Cast, duration: float, shot_type: str | None = None, first_frame: bool = False,
           panels: int = 0) -> Storyboard:  # fmt: skip
    """Plan the video: shots (text, framing, angle, camera, subjects, background), lines (speaker, text,
    language, time), with `panels` storyboard-grid panels mapped onto the shots when there are any."""
    preamble, pieces, how = segment.split(prompt)
    pieces = _fit_count(pieces, how, duration, shot_type, panels)
    places = _places(prompt, cast) - actions.surfaces(prompt, cast)  # a table put on is drawn, not a backdrop
    if panels:  # the grid image is the storyboard itself: its panels are the shots' pictures, not a subject
        places |= {m.label for m in cast.members if m.kind == "image"}
    cast = dialogue.describe_cast(prompt, cast, places)  # who is a person, and their gender and age (roles.py)
    shots: list[Shot] = []
    background = _first_place(preamble, cast, places) or Background("generated")
    previous_subjects: list[str] = []
    speaker_so_far: str | None = None
    for index, piece in enumerate(pieces):
        text = piece.text
        named = cast.labels_in(text)
        place = _first_place(text, cast, places)
        if place is not None:
            background = place
        subjects = [label for label in named if label not in places]
        if not subjects and _PRONOUN_CARRY.search(text):
            subjects = list(previous_subjects)
        if not subjects and len(cast.members) == 1 and cast.labels[0] not in places:
            subjects = list(cast.labels)
        spoken = dialogue.find_lines(
            text, cast, fallback_speaker=speaker_so_far if not named else None, before=prompt[: piece.start]
        )
        lines = [Line(s.speaker, s.text, s.language) for s in spoken]
        for line in lines:
            if line.speaker and line.speaker not in subjects and line.speaker not in places:
                subjects.append(line.speaker)
        speaker_so_far = next((line.speaker for line in reversed(lines) if line.speaker), speaker_so_far)
        shot = Shot(index=index, text=text, subjects=subjects, background=background, lines=lines)
        shot.framing = vocabulary.framing(text) or _default_framing(subjects, lines)
        shot.angle = vocabulary.angle(text) or "eye"
        shot.camera = vocabulary.camera(text) or "static"
        if piece.times:
            shot.start, shot.end, shot.timed = piece.times[0], piece.times[1], True
        shots.append(shot)
        previous_subjects = subjects or previous_subjects
    if not shots:
        shots = [Shot(index=0, text=prompt.strip(), framing=WIDE, background=background)]
    if shot_type == "multi" and len(shots) == 1:
        shots = _coverage(shots[0])
    _cast_unnamed(shots, cast, places)
    _set_backgrounds(shots, first_frame, panels)
    for shot in shots:
        before = prompt[: prompt.find(shot.text)] if shot.text in prompt else ""
        shot.actions = actions.find(shot.text, cast, before)
        shot.placements = staging.stage(shot, cast, before)
    notes: list[str] = []
    timing.place(shots, float(duration), notes)
    for shot in shots:
        actions.place_in_time(shot)
    subjects = list(dict.fromkeys(label for shot in shots for label in shot.subjects))
    language = dialogue.language_of(prompt)
    board = Storyboard(duration=float(duration), language=language, shots=shots, subjects=subjects, notes=notes)
    board.roles = roles.as_roles(cast)
    return board


def _fit_count(pieces, how: str, duration: float, shot_type: str | None, panels: int):
    """As many shots as the text asks for, but none shorter than MIN_SHOT_S; `single` forces one."""
    if shot_type == "single" and len(pieces) > 1:
        merged = " ".join(p.text for p in pieces)
        return [segment.Piece(merged, pieces[0].start)]
    if how != "sentences":
        return pieces
    limit = max(1, int(duration // MIN_SHOT_S))
    if panels:
        limit = min(limit, max(panels, 1))
    pieces = list(pieces)
    while len(pieces) > limit:  # merge the shortest neighbouring pair
        i = min(range(len(pieces) - 1), key=lambda k: len(pieces[k].text) + len(pieces[k + 1].text))
        pieces[i : i + 2] = [segment.Piece(pieces[i].text + pieces[i + 1].text, pieces[i].start)]
    return pieces


def _places(prompt: str, cast: Cast) -> set[str]:
    """References the prompt uses as a place (在图4的椅子上, "in Image 4"): backgrounds, never subjects."""
    return {label for label in cast.labels if _used_as_place(prompt, cast, label)}


def _used_as_place(text: str, cast: Cast, label: str) -> bool:
    member = next(m for m in cast.members if m.label == label)
    ref = "(?:" + "|".join(aliases(member, len(cast.members) == 1)) + ")"  # any alias of this member
    return any(not _NOT_PLACE.search(text[: m.start()]) for template in (_PLACE_ZH, _PLACE_ZH_2, _PLACE_EN)
               for m in re.finditer(template.format(ref=ref), text))  # fmt: skip


def _first_place(text: str, cast: Cast, places: set[str]) -> Background | None:
    for label in cast.labels_in(text):
        if label in places and _used_as_place(text, cast, label):
            return Background("reference", label=label)
    return None


def _default_framing(subjects: list[str], lines: list[Line]) -> str:
    if not subjects:
        return WIDE
    if len(subjects) == 1:
        return CLOSE if lines else MEDIUM
    return MEDIUM if len(subjects) == 2 else WIDE


def _coverage(shot: Shot) -> list[Shot]:
    """shot_type "multi" with a one-shot text: cover it twice, an establishing shot and a closer one, split at
    the clause nearest the middle when there is one."""
    parts = segment.clauses(shot.text)
    if len(parts) >= 2:
        middle = len(shot.text) / 2
        cut = min(range(1, len(parts)), key=lambda i: abs(parts[i][0] - middle))
        texts = [shot.text[: parts[cut][0]].rstrip("，,；; "), shot.text[parts[cut][0] :].lstrip()]
    else:
        texts = [shot.text, shot.text]

    def own(text: str) -> list[str]:  # the subjects this half names, else all of them
        return [label for label in shot.subjects if label in text] or list(shot.subjects)

    first = Shot(0, texts[0], framing=WIDE, angle=shot.angle, camera=shot.camera, subjects=own(texts[0]),
                 background=shot.background)  # fmt: skip
    second = Shot(1, texts[1], angle="eye", camera="static", subjects=own(texts[1]), background=shot.background,
                  lines=shot.lines)  # fmt: skip
    if len(parts) >= 2:  # lines go with the half that holds them
        first.lines = [line for line in shot.lines if line.text in texts[0]]
        second.lines = [line for line in shot.lines if line not in first.lines]
    second.framing = CLOSE if second.lines else MEDIUM  # the closer shot is a close-up of whoever speaks in it
    return [first, second]


def _cast_unnamed(shots: list[Shot], cast: Cast, places: set[str]) -> None:
    """A reference the prompt never names still appears: each joins the shot with the fewest subjects."""
    named = {label for shot in shots for label in shot.subjects} | places
    for label in cast.labels:
        if label not in named:
            target = min(shots, key=lambda s: (len(s.subjects), -s.index))
            target.subjects.append(label)


def _set_backgrounds(shots: list[Shot], first_frame: bool, panels: int) -> None:
    if panels:
        for shot in shots:
            panel = min(panels - 1, shot.index * panels // len(shots)) if len(shots) <= panels else shot.index % panels
            shot.background = Background("panel", panel=panel)
    if first_frame:
        shots[0].background = Background("first_frame")

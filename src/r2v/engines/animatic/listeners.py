"""Listeners step back while someone else speaks: their colour is dimmed, eased in and out over a few frames
(a one-frame change reads as a flicker). Each subject keeps its own progress across frames and shots."""

from __future__ import annotations

from r2v.director.storyboard import ease

DIM_LISTENERS = 0.86  # a listener's colour, relative to its own
DIM_FRAMES = 8  # frames to dim or brighten fully (about a quarter of a second)


class Dimming:
    def __init__(self) -> None:
        self._progress: dict[str, float] = {}  # 0 as drawn .. 1 fully dimmed

    def at(self, label: str, speaker: str | None) -> float:
        """`label`'s colour factor for the next frame, given who speaks in it; call once per frame and subject."""
        target = 1.0 if speaker and speaker != label else 0.0
        progress = self._progress.get(label)
        if progress is None:  # first seen: as it should be, with nothing to ease from
            progress = target
        elif progress < target:
            progress = min(target, progress + 1 / DIM_FRAMES)
        else:
            progress = max(target, progress - 1 / DIM_FRAMES)
        self._progress[label] = progress
        return 1.0 - (1.0 - DIM_LISTENERS) * ease(progress)

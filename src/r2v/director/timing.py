"""Shot and line timing: explicit times are kept; otherwise the video's length is shared so that every line fits
its shot at a natural speaking rate.

A line's words are never cut. A line too long for its shot is sped up (at most MAX_RATE), its shot lengthened by
taking time from shots without lines (down to MIN_SILENT_SHOT_S), and if it still does not fit it runs past the
end of its shot (Line.overrun) into the next one, whose lines wait for it. Only when the lines cannot all be said
by the end of the video at MAX_RATE are they spoken faster than that; the plan's notes say so, with the rate."""

from __future__ import annotations

import math
import re

from r2v.director.storyboard import Shot

CHARS_PER_S_ZH = 4.5  # natural Mandarin, syllables (characters) per second
WORDS_PER_S_EN = 2.6  # about 155 words a minute
# Faster than this stops sounding like natural speech: 5.9 syllables/s in Mandarin, 200 words a minute in English,
# the quick end of conversational speech in both.
MAX_RATE = 1.3
LEAD_S = 0.35  # a shot settles before its first line
GAP_S = 0.25  # between two lines
TAIL_S = 0.25
MIN_SHOT_S = 1.2
MIN_SILENT_SHOT_S = 0.6  # a shot without lines gives up time to the lines, down to this
RATE_STEP = 0.05


def natural_seconds(text: str, language: str) -> float:
    if language == "zh":
        units = len(re.findall(r"[\u3400-\u9fff]", text)) + len(re.findall(r"[A-Za-z]+|\d+", text))
        return max(0.4, units / CHARS_PER_S_ZH)
    return max(0.4, len(re.findall(r"[\w']+", text)) / WORDS_PER_S_EN)


def _need(shot: Shot, rate: float, silent: float = MIN_SHOT_S) -> float:
    if not shot.lines:
        return silent
    talk = sum(natural_seconds(line.text, line.language) / max(rate, line.rate) for line in shot.lines)
    return max(MIN_SHOT_S, LEAD_S + talk + GAP_S * (len(shot.lines) - 1) + TAIL_S)


def _weight(shot: Shot) -> float:
    return 1.0 + len(shot.text) / 60


def place(shots: list[Shot], duration: float, notes: list[str]) -> None:
    """Set every shot's start/end and every line's start/end/rate/overrun."""
    if any(s.timed for s in shots):
        _place_timed(shots, duration)
    else:
        _share(shots, duration, notes)
    _place_lines(shots, duration, notes)


def _share(shots: list[Shot], duration: float, notes: list[str]) -> None:
    """Untimed shots share the video: each gets what its lines need at the slowest rate that fits, plus a share of
    what is left by the length of its text."""
    steps = int(round((MAX_RATE - 1.0) / RATE_STEP))
    rates = [round(1.0 + RATE_STEP * i, 2) for i in range(steps + 1)]
    tries = [(rate, silent) for silent in (MIN_SHOT_S, MIN_SILENT_SHOT_S) for rate in rates]
    rate, silent = next(((r, s) for r, s in tries if sum(_need(x, r, s) for x in shots) <= duration), tries[-1])
    needs = [_need(s, rate, silent) for s in shots]
    for line in (line for shot in shots for line in shot.lines):
        line.rate = max(line.rate, rate)
    if sum(needs) > duration:  # the lines run past their shots: every shot gets its share of the need
        needs = [n * duration / sum(needs) for n in needs]
    elif rate > 1.0 and any(shot.lines for shot in shots):
        notes.append(f"dialogue sped up {rate:.2f}x to fit {duration:g} s")
    spare = max(0.0, duration - sum(needs))
    total_weight = sum(_weight(s) for s in shots)
    t = 0.0
    for shot, need in zip(shots, needs, strict=True):
        shot.start = round(t, 3)
        t += need + spare * _weight(shot) / total_weight
        shot.end = round(min(duration, t), 3)
    shots[-1].end = float(duration)


def _place_timed(shots: list[Shot], duration: float) -> None:
    """Explicit times are kept (clipped to the video); untimed shots share what the timed ones leave."""
    t = 0.0
    for i, shot in enumerate(shots):
        if shot.timed:
            shot.start, shot.end = max(0.0, min(shot.start, duration)), max(0.0, min(shot.end, duration))
            t = shot.end
        else:
            following = next((s.start for s in shots[i + 1 :] if s.timed), duration)
            untimed_run = [s for s in shots[i:] if not s.timed and s.start <= following]
            share = max(0.0, following - t) / max(1, len(untimed_run))
            shot.start, shot.end = t, min(duration, t + share)
            t = shot.end
    if shots and shots[-1].end < duration:
        shots[-1].end = float(duration)


def _place_lines(shots: list[Shot], duration: float, notes: list[str]) -> None:
    """Lines one after another, each as early as its shot and the line before allow, sped up (to MAX_RATE) to end
    with its shot; past the shot if it must; faster than MAX_RATE only when the video would end first."""
    lines = [line for shot in shots for line in shot.lines]
    if not lines:
        return
    base = {id(line): line.rate for line in lines}  # the rate the shared timing chose
    end = _schedule(shots, base, floor=1.0, gap=GAP_S)
    if end > duration + 1e-6:
        floor = _fastest_needed(shots, base, duration)
        end = _schedule(shots, base, floor=floor, gap=GAP_S)
        if end > duration + 1e-6:  # so many lines that even the gaps between them do not fit: no gaps
            _schedule(shots, base, floor=floor, gap=0.0)
        notes.append(
            "the lines could not all be said by the end of the video at a natural rate: spoken at up to "
            f"{max(line.rate for line in lines):.2f}x"
        )
    for shot in shots:
        for line in (line for line in shot.lines if line.overrun):
            who = line.speaker or "an unnamed speaker"
            notes.append(f"line of {who} runs {line.end - shot.end:.2f} s past its shot (“{line.text}”)")


def _schedule(shots: list[Shot], base: dict[int, float], floor: float, gap: float) -> float:
    """Place every line at a rate of at least `floor` (and its `base` rate); returns where the last one ends."""
    previous_end = -math.inf
    for shot in shots:
        t = shot.start + min(LEAD_S, shot.seconds * 0.15)
        for line in shot.lines:
            start = max(t, previous_end + gap)
            natural = natural_seconds(line.text, line.language)
            room = shot.end - start - 0.05
            wanted = natural / room if room > 0.05 else math.inf  # the rate that ends it with its shot
            rate = max(floor, base[id(line)], min(MAX_RATE, wanted))
            line.rate = math.ceil(rate * 100 - 1e-9) / 100
            line.start = round(start, 3)
            line.end = round(start + natural / line.rate, 3)
            line.overrun = line.end > shot.end + 1e-6
            line.cut = False
            previous_end = line.end
            t = line.end + gap
    return previous_end


def _fastest_needed(shots: list[Shot], base: dict[int, float], duration: float) -> float:
    """The smallest rate floor (to 0.01) at which the lines end by the video's end."""
    low, high = 1.0, 8.0
    if _schedule(shots, base, floor=high, gap=GAP_S) > duration + 1e-6:
        return high
    while high - low > 0.005:
        middle = (low + high) / 2
        if _schedule(shots, base, floor=middle, gap=GAP_S) <= duration + 1e-6:
            high = middle
        else:
            low = middle
    return math.ceil(high * 100) / 100

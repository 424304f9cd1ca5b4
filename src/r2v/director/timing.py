"""Shot and line timing: explicit times are kept; otherwise the video's length is shared so that every line fits
its shot at a natural speaking rate. Lines too long for the video are sped up (at most MAX_RATE), then cut."""

from __future__ import annotations

import re

from r2v.director.storyboard import Line, Shot

CHARS_PER_S_ZH = 4.5  # natural Mandarin, syllables (characters) per second
WORDS_PER_S_EN = 2.6  # about 155 words a minute
MAX_RATE = 1.3  # faster than this stops sounding like speech
LEAD_S = 0.35  # a shot settles before its first line
GAP_S = 0.25  # between two lines of one shot
TAIL_S = 0.25
MIN_SHOT_S = 1.2


def natural_seconds(text: str, language: str) -> float:
    if language == "zh":
        units = len(re.findall(r"[\u3400-\u9fff]", text)) + len(re.findall(r"[A-Za-z]+|\d+", text))
        return max(0.4, units / CHARS_PER_S_ZH)
    return max(0.4, len(re.findall(r"[\w']+", text)) / WORDS_PER_S_EN)


def _need(shot: Shot, rate: float) -> float:
    talk = sum(natural_seconds(line.text, line.language) / max(rate, line.rate) for line in shot.lines)
    if not shot.lines:
        return MIN_SHOT_S
    return max(MIN_SHOT_S, LEAD_S + talk + GAP_S * (len(shot.lines) - 1) + TAIL_S)


def _weight(shot: Shot) -> float:
    return 1.0 + len(shot.text) / 60


def place(shots: list[Shot], duration: float, notes: list[str]) -> None:
    """Set every shot's start/end and every line's start/end/rate (cutting text when it cannot fit)."""
    timed = [s for s in shots if s.timed]
    if timed:
        _place_timed(shots, duration)
    else:
        rates = [round(1.0 + 0.05 * i, 2) for i in range(int(round((MAX_RATE - 1.0) / 0.05)) + 1)]
        rate = next((r for r in rates if sum(_need(s, r) for s in shots) <= duration), None)
        if rate is None:
            _cut(shots, duration, notes)
            rate = MAX_RATE
        elif rate > 1.0:
            for line in (line for shot in shots for line in shot.lines):
                line.rate = rate
            notes.append(f"dialogue sped up {rate:.2f}x to fit {duration:g} s")
        needs = [_need(s, rate) for s in shots]
        spare = max(0.0, duration - sum(needs))
        total_weight = sum(_weight(s) for s in shots)
        t = 0.0
        for shot, need in zip(shots, needs, strict=True):
            shot.start = round(t, 3)
            t += need + spare * _weight(shot) / total_weight
            shot.end = round(min(duration, t), 3)
        shots[-1].end = float(duration)
    for shot in shots:
        _place_lines(shot, notes)


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


def _place_lines(shot: Shot, notes: list[str]) -> None:
    t = shot.start + min(LEAD_S, shot.seconds * 0.15)
    for line in shot.lines:
        seconds = natural_seconds(line.text, line.language) / line.rate
        room = shot.end - t - 0.05
        if seconds > room and room > 0.3:  # explicit times too short for the line: faster, then cut
            wanted = natural_seconds(line.text, line.language) / room
            line.rate = round(min(MAX_RATE, max(line.rate, wanted)), 2)
            seconds = natural_seconds(line.text, line.language) / line.rate
            if seconds > room:
                _shorten(line, room, notes)
                seconds = natural_seconds(line.text, line.language) / line.rate
        line.start = round(t, 3)
        line.end = round(min(shot.end, t + seconds), 3)
        t = line.end + GAP_S


def _cut(shots: list[Shot], duration: float, notes: list[str]) -> None:
    """Shorten the longest lines until every shot's need fits the video."""
    for shot in shots:
        for line in shot.lines:
            line.rate = MAX_RATE
    while sum(_need(s, MAX_RATE) for s in shots) > duration:
        lines = [line for s in shots for line in s.lines if len(line.text) > 2]
        if not lines:
            break
        longest = max(lines, key=lambda line: natural_seconds(line.text, line.language))
        excess = sum(_need(s, MAX_RATE) for s in shots) - duration
        target = max(0.4, natural_seconds(longest.text, longest.language) / MAX_RATE - excess)
        if not _shorten(longest, target, notes):
            break


def _shorten(line: Line, seconds: float, notes: list[str]) -> bool:
    """Cut the line's text to about `seconds` of speech at its rate, at a word or punctuation boundary."""
    keep = max(0.0, seconds) * line.rate
    if line.language == "zh":
        count = max(1, int(keep * CHARS_PER_S_ZH))
        shorter = line.text[:count]
        cut_at = max(shorter.rfind(ch) for ch in "，,、；;。！？")
        if cut_at >= len(shorter) // 2:
            shorter = shorter[:cut_at]
    else:
        words = line.text.split()
        shorter = " ".join(words[: max(1, int(keep * WORDS_PER_S_EN))])
    shorter = shorter.rstrip("，,、；; ")
    if not shorter or shorter == line.text:
        return False
    notes.append(f"line of {line.speaker or 'an unnamed speaker'} cut to fit: “{shorter}…”")
    line.text, line.cut = shorter, True
    return True

"""Film grammar in the prompt: framing, camera angle and camera move, in Chinese and English.

Each table maps a value to the words that ask for it; the earliest word found in a shot's text decides."""

from __future__ import annotations

import re

from r2v.director.storyboard import CLOSE, CLOSE_UP, EXTREME_CLOSE_UP, MEDIUM, WIDE

FRAMINGS = {
    EXTREME_CLOSE_UP: ["大特写", "极特写", "extreme close-up", "extreme closeup", "extreme close up"],
    CLOSE_UP: ["特写", "close-up", "closeup", "close up"],
    CLOSE: ["近景", "半身", "close shot", "medium close"],
    MEDIUM: ["中景", "中近景", "medium shot", "mid shot", "mid-shot", "two-shot", "two shot", "双人镜头"],
    WIDE: ["大全景", "全景", "远景", "航拍", "wide shot", "long shot", "establishing shot", "full shot", "wide angle",
           "wide-angle", "aerial"],
}  # fmt: skip
ANGLES = {
    "overhead": ["鸟瞰", "顶拍", "俯瞰全", "bird's-eye", "bird's eye", "birds-eye", "overhead", "top-down", "top down"],
    "high": ["俯拍", "俯视", "俯瞰", "高角度", "high angle", "high-angle", "looking down"],
    "low": ["仰拍", "仰视", "低角度", "low angle", "low-angle", "looking up"],
    "dutch": ["斜角", "荷兰角", "dutch angle", "dutch tilt"],
    "eye": ["平视", "eye level", "eye-level"],
}  # fmt: skip
CAMERAS = {
    "push_in": ["推进", "推近", "推镜", "拉近", "镜头推", "zoom in", "zooms in", "push in", "pushes in", "push-in",
                "dolly in", "dollies in", "moves in", "move in", "moving in"],
    "pull_out": ["拉远", "拉开", "后拉", "zoom out", "zooms out", "pull out", "pulls out", "pull back", "pulls back",
                 "pull-out", "dolly out", "dollies out"],
    "pan_left": ["左摇", "向左摇", "pan left", "pans left", "panning left"],
    "pan_right": ["右摇", "向右摇", "横摇", "摇镜", "pan right", "pans right", "panning right", "pans across",
                  "pan across"],
    "tilt_up": ["上摇", "向上摇", "tilt up", "tilts up"],
    "tilt_down": ["下摇", "向下摇", "tilt down", "tilts down"],
    "track": ["跟拍", "跟随", "跟镜", "移动镜头", "tracking shot", "tracking", "tracks", "follows", "following shot"],
    "orbit": ["环绕", "环拍", "围绕拍摄", "orbit", "orbits", "circles around", "360"],
    "static": ["固定机位", "固定镜头", "静止镜头", "static shot", "static camera", "locked-off", "locked off"],
}  # fmt: skip


def _compile(table: dict[str, list[str]]) -> list[tuple[str, re.Pattern]]:
    compiled = []
    for value, words in table.items():
        for word in words:
            ascii_word = word.isascii()
            pattern = rf"(?i)\b{re.escape(word)}\b" if ascii_word else re.escape(word)
            compiled.append((value, re.compile(pattern)))
    return compiled


_FRAMINGS, _ANGLES, _CAMERAS = _compile(FRAMINGS), _compile(ANGLES), _compile(CAMERAS)


def _earliest(compiled: list[tuple[str, re.Pattern]], text: str) -> str | None:
    best: tuple[int, int, str] | None = None
    for value, pattern in compiled:
        match = pattern.search(text)
        if match and (best is None or (match.start(), -len(match.group())) < best[:2]):
            best = (match.start(), -len(match.group()), value)
    return best[2] if best else None


def framing(text: str) -> str | None:
    return _earliest(_FRAMINGS, text)


def angle(text: str) -> str | None:
    return _earliest(_ANGLES, text)


def camera(text: str) -> str | None:
    return _earliest(_CAMERAS, text)

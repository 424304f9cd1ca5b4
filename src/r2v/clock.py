"""Time source, injectable so that tests can jump past the 24 h retention without waiting."""

from __future__ import annotations

import time


class Clock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)


class FakeClock(Clock):
    def __init__(self, start_ms: int | None = None):
        self._now = start_ms if start_ms is not None else int(time.time() * 1000)

    def now_ms(self) -> int:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * 1000)

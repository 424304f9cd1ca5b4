"""Per-key request limits, as the cloud has them (spec section 6): token buckets per API key and action.

R2V_RATE_LIMITS configures them: "off" switches every limit off; otherwise comma-separated overrides of the
defaults, e.g. "submit=10,query=50,running=2" (a value of 0 or "off" lifts that one limit). `running` is not a
request rate but the number of one key's tasks rendering at once; more stay PENDING (tasks/sqlite_store.py)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields, replace

from r2v.clock import Clock
from r2v.errors import THROTTLED, ApiError

MSG_THROTTLED = "Requests rate limit exceeded, please try again later."


@dataclass(frozen=True)
class RateLimits:
    """Requests per second per key for each action (None = unlimited), and tasks running at once per key."""

    submit: float | None = 5
    query: float | None = 20
    list: float | None = 20
    cancel: float | None = 20
    policy: float | None = 100
    running: int | None = 5

    @classmethod
    def off(cls) -> RateLimits:
        return cls(**{f.name: None for f in fields(cls)})

    @classmethod
    def parse(cls, text: str) -> RateLimits:
        text = text.strip()
        if text.lower() in ("off", "0", "false", "no", "none"):
            return cls.off()
        limits = cls()
        names = {f.name for f in fields(cls)}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, raw = item.partition("=")
            name, raw = name.strip().lower(), raw.strip().lower()
            if name not in names:
                raise ValueError(f"R2V_RATE_LIMITS: unknown limit {name!r}; one of {', '.join(sorted(names))}")
            try:
                value = None if raw in ("off", "0") else float(raw)
            except ValueError:
                raise ValueError(f"R2V_RATE_LIMITS: {name} must be a number or off, got {raw!r}") from None
            if value is not None and value < 0:
                raise ValueError(f"R2V_RATE_LIMITS: {name} must not be negative")
            if name == "running" and value is not None:
                value = max(1, int(value))
            limits = replace(limits, **{name: value})
        return limits


class RequestLimiter(ABC):
    """The port: one process's buckets (RateLimiter, below), or buckets every API process shares (PostgreSQL)."""

    limits: RateLimits

    @abstractmethod
    def check(self, owner: str, action: str) -> None:
        """Take one token for `action` by `owner`, or raise 429 Throttling.RateQuota."""

    def refill(self) -> None:  # noqa: B027 - only a limiter of one process's own buckets can be refilled
        """Fill every bucket again (the emulator's reset: each test starts with the whole second's allowance)."""


def throttled() -> ApiError:
    return ApiError(429, THROTTLED, MSG_THROTTLED)


def bucket_capacity(rate: float) -> float:
    """A bucket holds one second's worth of requests, and at least one."""
    return max(1.0, float(rate))


class RateLimiter(RequestLimiter):
    """Token buckets holding one second's worth of requests (at least one), refilled continuously; thread-safe."""

    def __init__(self, limits: RateLimits, clock: Clock):
        self.limits = limits
        self.clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, int]] = {}  # (key, action) -> (tokens, at ms)
        self._lock = threading.Lock()

    def check(self, owner: str, action: str) -> None:
        """Take one token for `action` by `owner`, or answer 429 Throttling.RateQuota."""
        rate = getattr(self.limits, action)
        if rate is None:
            return
        now = self.clock.now_ms()
        capacity = bucket_capacity(rate)
        with self._lock:
            tokens, at = self._buckets.get((owner, action), (capacity, now))
            tokens = min(capacity, tokens + max(0, now - at) * rate / 1000)
            if tokens < 1:
                self._buckets[(owner, action)] = (tokens, now)
                raise throttled()
            self._buckets[(owner, action)] = (tokens - 1, now)

    def refill(self) -> None:
        with self._lock:
            self._buckets.clear()

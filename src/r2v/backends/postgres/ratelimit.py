"""Per-key request limits shared by every API process of a cluster: the same token buckets as ratelimits.py, kept
in PostgreSQL and updated in one statement each, so that N processes behind a load balancer allow a key what one
process would, not N times as much."""

from __future__ import annotations

from r2v.backends.postgres.database import PgDatabase
from r2v.clock import Clock
from r2v.ratelimits import RateLimits, RequestLimiter, bucket_capacity, throttled

# Refill the bucket for the time since its last use, take a token if there is one, all under the row's lock. A
# refused request changes nothing (its refill is counted by the next request, from the same at_ms).
_TAKE = """
INSERT INTO rate_buckets AS b (owner, action, tokens, at_ms) VALUES (?, ?, ? - 1, ?)
ON CONFLICT (owner, action) DO UPDATE
   SET tokens = least(?, b.tokens + greatest(0, excluded.at_ms - b.at_ms) * ? / 1000.0) - 1, at_ms = excluded.at_ms
 WHERE least(?, b.tokens + greatest(0, excluded.at_ms - b.at_ms) * ? / 1000.0) >= 1
RETURNING tokens
"""


class SharedRateLimiter(RequestLimiter):
    def __init__(self, db: PgDatabase, limits: RateLimits, clock: Clock):
        self.db, self.limits, self.clock = db, limits, clock

    def check(self, owner: str, action: str) -> None:
        rate = getattr(self.limits, action)
        if rate is None:
            return
        capacity = bucket_capacity(rate)
        taken = self.db.execute(
            _TAKE, (owner, action, capacity, self.clock.now_ms(), capacity, rate, capacity, rate)
        ).fetchone()
        if taken is None:
            raise throttled()

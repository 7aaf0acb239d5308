"""Rate limits on what members do, shared by pages, the JSON API, the MCP server and the CLI.

Fixed windows counted in the database, so one limit holds across web processes.

Each (bucket, key) pair may be hit `limit` times per window of `window` seconds, windows aligned
to Unix time. With `paperfeed serve --workers N` (or several machines) every process counts in
the same table, so the limit is the same as with one process. Expired counters are deleted now
and then as hits come in, so the table stays small.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from paperfeed.config import Settings
from paperfeed.errors import RateLimited
from paperfeed.models import User
from paperfeed.store import Database
from paperfeed.store import ratelimits as store

_SWEEP_EVERY = 1024  # hits (in this process) between deletions of expired counters
WRITE_WINDOW = 60.0
_sweep_lock = threading.Lock()
_hits = 0  # per process, not per limiter: a limiter made for one call still sweeps in turn


class RateLimiter:
    """Counts hits per (bucket, key) in the database and refuses those over the limit."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def _sweep_due(self) -> bool:
        global _hits
        with _sweep_lock:
            _hits += 1
            return _hits % _SWEEP_EVERY == 0

    def hit(self, bucket: str, key: str, *, limit: int, window: float) -> int:
        """Count one hit and return the seconds to wait: 0 when allowed, > 0 when over the limit."""
        return self._hits_on(bucket, [key], limit=limit, window=window)

    def _hits_on(self, bucket: str, keys: list[str], *, limit: int, window: float) -> int:
        if limit <= 0 or not keys:
            return 0
        now = self._clock()
        wait = 0
        with self._db.write() as conn:
            if self._sweep_due():
                store.sweep(conn, now)
            for key in keys:
                end, n = store.hit(conn, bucket, key, now=now, window=window)
                if n > limit:
                    wait = max(wait, max(1, math.ceil(end - now)))
        return wait

    def check(self, bucket: str, keys: list[str], *, limit: int, window: float, what: str) -> None:
        """Count a hit on every key; raise RateLimited (saying when to retry) if any is over."""
        wait = self._hits_on(bucket, keys, limit=limit, window=window)
        if wait:
            raise RateLimited(f"too many {what}: try again in {_human(wait)}", retry_after=wait)

    def reset(self) -> None:
        """Forget every count (tests and admin use)."""
        with self._db.write() as conn:
            store.clear(conn)


def _human(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} s"
    return f"{math.ceil(seconds / 60)} min"


def member_key(user: User) -> str:
    """The key a member's writes count under when signed in with a cookie (or the CLI)."""
    return f"user:{user.id}"


def check_write(
    db: Database, settings: Settings, key: str, *, limiter: RateLimiter | None = None
) -> None:
    """Count one write for the key; RateLimited past write_rate_limit a minute."""
    # key: member_key(user) for a cookie session, Principal.limit_key for a token, so each token
    # has its own budget and a runaway script cannot use up the member's browser budget.
    (limiter or RateLimiter(db)).check(
        "write",
        [key],
        limit=settings.write_rate_limit,
        window=WRITE_WINDOW,
        what="posts in a minute",
    )

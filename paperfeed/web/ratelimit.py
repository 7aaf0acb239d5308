"""Fixed-window rate limits counted in the database, so one limit holds across web processes.

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
from typing import Any

from paperfeed.errors import RateLimited
from paperfeed.store import Database
from paperfeed.store import ratelimits as store

_SWEEP_EVERY = 1024  # hits (in this process) between deletions of expired counters


class RateLimiter:
    """Counts hits per (bucket, key) in the database and refuses those over the limit."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._hits = 0

    def _sweep_due(self) -> bool:
        with self._lock:
            self._hits += 1
            return self._hits % _SWEEP_EVERY == 0

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


def limiter_for(app: Any) -> RateLimiter:
    """The app's limiter, counting in the app's database."""
    lim = getattr(app.state, "rate_limiter", None)
    if lim is None:
        lim = app.state.rate_limiter = RateLimiter(app.state.db)
    return lim  # type: ignore[no-any-return]

"""A small fixed-window rate limiter kept in process memory.

Each (bucket, key) pair may be hit `limit` times per window of `window` seconds. The counts live
in this process: with one `paperfeed serve` process (the embedded default) that is exact; with
several workers each process counts separately, so the effective limit is multiplied by the
number of processes. Memory stays bounded because expired windows are swept as new ones start.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from paperfeed.errors import RateLimited

_SWEEP_EVERY = 1024  # hits between sweeps of expired windows


class RateLimiter:
    """Counts hits per (bucket, key) in fixed windows and refuses those over the limit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}  # -> (window end, hits)
        self._hits = 0

    def hit(self, bucket: str, key: str, *, limit: int, window: float) -> int:
        """Count one hit and return the seconds to wait: 0 when allowed, > 0 when over the limit."""
        if limit <= 0:
            return 0
        now = self._clock()
        with self._lock:
            self._hits += 1
            if self._hits % _SWEEP_EVERY == 0:
                self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
            end, n = self._counts.get((bucket, key), (0.0, 0))
            if end <= now:
                end, n = (now // window + 1) * window, 0
            n += 1
            self._counts[(bucket, key)] = (end, n)
        return max(1, math.ceil(end - now)) if n > limit else 0

    def check(self, bucket: str, keys: list[str], *, limit: int, window: float, what: str) -> None:
        """Count a hit on every key; raise RateLimited (saying when to retry) if any is over."""
        wait = max((self.hit(bucket, k, limit=limit, window=window) for k in keys), default=0)
        if wait:
            raise RateLimited(f"too many {what}: try again in {_human(wait)}", retry_after=wait)

    def reset(self) -> None:
        """Forget every count (tests and admin use)."""
        with self._lock:
            self._counts.clear()


def _human(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} s"
    return f"{math.ceil(seconds / 60)} min"


def limiter_for(app: Any) -> RateLimiter:
    """The app's limiter (one per app, so two apps in one process, e.g. tests, never share counts)."""
    lim = getattr(app.state, "rate_limiter", None)
    if lim is None:
        lim = app.state.rate_limiter = RateLimiter()
    return lim  # type: ignore[no-any-return]

"""The web app's rate limiter (counting in the app's database); the limiter itself is service.limits."""

from __future__ import annotations

from typing import Any

from paperfeed.service.limits import RateLimiter

__all__ = ["RateLimiter", "limiter_for"]


def limiter_for(app: Any) -> RateLimiter:
    """The app's limiter, counting in the app's database."""
    lim = getattr(app.state, "rate_limiter", None)
    if lim is None:
        lim = app.state.rate_limiter = RateLimiter(app.state.db)
    return lim  # type: ignore[no-any-return]

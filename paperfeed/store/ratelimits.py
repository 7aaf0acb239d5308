"""Fixed-window rate-limit counters shared by every process on the database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import insert_for
from paperfeed.store.schema import rate_limits

KEY_MAX = 320  # longer keys (hostile input) are cut: a shared prefix only makes a limit stricter


def hit(conn: Connection, bucket: str, key: str, *, now: float, window: float) -> tuple[float, int]:
    """Count one hit in the current window; returns (window end, hits in it including this one)."""
    end = (now // window + 1) * window
    expired = rate_limits.c.window_end <= now
    stmt = insert_for(conn, rate_limits).values(
        bucket=bucket, key=key[:KEY_MAX], window_end=end, hits=1
    )
    # One statement, atomic on both backends: a new window starts over, else the count goes up.
    stmt = stmt.on_conflict_do_update(
        index_elements=[rate_limits.c.bucket, rate_limits.c.key],
        set_={
            "hits": sa.case((expired, 1), else_=rate_limits.c.hits + 1),
            "window_end": sa.case(
                (expired, stmt.excluded.window_end), else_=rate_limits.c.window_end
            ),
        },
    ).returning(rate_limits.c.window_end, rate_limits.c.hits)
    row = conn.execute(stmt).one()
    return float(row.window_end), int(row.hits)


def sweep(conn: Connection, now: float) -> int:
    """Delete counters whose window has closed; returns how many."""
    return int(conn.execute(sa.delete(rate_limits).where(rate_limits.c.window_end <= now)).rowcount)


def clear(conn: Connection) -> None:
    """Forget every counter."""
    conn.execute(sa.delete(rate_limits))

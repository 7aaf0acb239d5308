"""Page marks: a cheap fingerprint of what a visitor's feed page shows, and write notices."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import Database
from paperfeed.store.schema import comments, counters, feed_entries, votes

_WROTE = "pf_wrote"  # set on a pooled connection's info when a write transaction commits


def feed_mark(conn: Connection) -> tuple[Any, ...]:
    """A tuple that changes whenever a feed page's papers, days, votes or comments change."""
    # paper_rev moves on every import, upsert, vote and hide; feed entries, comments and
    # account deletion (which drops votes and comments) move only the counts. Index scans of
    # a few thousand rows: 1-2 ms on the demo, asked at most once a second per process.
    q = sa.select(
        sa.select(counters.c.value).where(counters.c.name == "paper_rev").scalar_subquery(),
        sa.select(sa.func.count()).select_from(votes).scalar_subquery(),
        sa.select(sa.func.count()).select_from(feed_entries).scalar_subquery(),
        sa.select(sa.func.count(feed_entries.c.submitted_by)).scalar_subquery(),
        sa.select(sa.func.count()).select_from(comments).scalar_subquery(),
        sa.select(sa.func.max(comments.c.deleted_at)).scalar_subquery(),
    )
    return tuple(conn.execute(q).one())


def after_each_write(db: Database, callback: Callable[[], None]) -> None:
    """Call `callback` (held weakly) whenever a write transaction of this process has committed."""
    ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else (lambda: callback)
    engine = db.engine

    def wrote(conn: Connection) -> None:
        if conn.get_execution_options().get("paperfeed_write"):
            conn.info[_WROTE] = True

    def returned(dbapi_conn: Any, record: Any) -> None:
        # After the commit, when the connection goes back to the pool: a reader that asks now
        # sees the new rows (the commit event itself fires just before the COMMIT).
        if record.info.get(_WROTE):
            fn = ref()
            if fn is not None:
                fn()

    def cleared(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        record.info.pop(_WROTE, None)

    sa.event.listen(engine, "commit", wrote)
    sa.event.listen(engine, "checkin", returned)
    sa.event.listen(engine, "checkout", cleared)

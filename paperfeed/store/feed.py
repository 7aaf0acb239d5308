"""Feed entries: which papers were featured on which day, ranked by upvotes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import FeedEntry, FeedItem
from paperfeed.store.db import insert_for
from paperfeed.store.papers import paper_columns, paper_from_row
from paperfeed.store.schema import feed_entries, papers, upvotes_expr


def add_entries(conn: Connection, entries: Sequence[FeedEntry]) -> int:
    """Record feed entries; a known (paper, day) keeps its row but gains a missing submitter."""
    if not entries:
        return 0
    rows = {
        (e.paper_id, e.day): {
            "paper_id": e.paper_id,
            "day": e.day,
            "submitted_by": e.submitted_by,
            "submitted_at": e.submitted_at.replace(tzinfo=None) if e.submitted_at else None,
            "source": e.source,
        }
        for e in entries
    }
    stmt = insert_for(conn, feed_entries).values(list(rows.values()))
    stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["paper_id", "day"],
        set_={
            "submitted_by": sa.func.coalesce(
                feed_entries.c.submitted_by, stmt.excluded.submitted_by
            ),  # type: ignore[attr-defined]
            "submitted_at": sa.func.coalesce(
                feed_entries.c.submitted_at, stmt.excluded.submitted_at
            ),  # type: ignore[attr-defined]
        },
    )
    return int(conn.execute(stmt).rowcount or 0)


def feed_between(
    conn: Connection,
    start: date,
    end: date,
    *,
    limit: int = 50,
    offset: int = 0,
    submitted_by: str | None = None,
) -> list[FeedItem]:
    """Papers featured from start to end inclusive, most upvoted first, ties by newest then id."""
    q = (
        sa.select(
            *paper_columns(),
            feed_entries.c.day,
            feed_entries.c.submitted_by,
            feed_entries.c.submitted_at,
        )
        .join(feed_entries, feed_entries.c.paper_id == papers.c.id)
        .where(feed_entries.c.day.between(start, end), papers.c.hidden == sa.false())
        .order_by(upvotes_expr.desc(), feed_entries.c.day.desc(), papers.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if submitted_by is not None:  # the web API's ?submitter= filter
        q = q.where(feed_entries.c.submitted_by == submitted_by)
    return [
        FeedItem(paper_from_row(r), r.day, r.submitted_by, r.submitted_at) for r in conn.execute(q)
    ]


def count_between(
    conn: Connection, start: date, end: date, *, submitted_by: str | None = None
) -> int:
    """How many visible papers were featured from start to end inclusive."""
    q = (
        sa.select(sa.func.count())
        .select_from(feed_entries.join(papers, feed_entries.c.paper_id == papers.c.id))
        .where(feed_entries.c.day.between(start, end), papers.c.hidden == sa.false())
    )
    if submitted_by is not None:
        q = q.where(feed_entries.c.submitted_by == submitted_by)
    return int(conn.execute(q).scalar_one())


def latest_day(conn: Connection) -> date | None:
    """The most recent day with a featured paper."""
    return conn.execute(sa.select(sa.func.max(feed_entries.c.day))).scalar_one_or_none()


def day_before(conn: Connection, day: date) -> date | None:
    """The nearest earlier day with featured papers."""
    q = sa.select(sa.func.max(feed_entries.c.day)).where(feed_entries.c.day < day)
    return conn.execute(q).scalar_one_or_none()


def day_after(conn: Connection, day: date) -> date | None:
    """The nearest later day with featured papers."""
    q = sa.select(sa.func.min(feed_entries.c.day)).where(feed_entries.c.day > day)
    return conn.execute(q).scalar_one_or_none()


def days_for(conn: Connection, paper_id: str) -> list[date]:
    """The days a paper was featured on."""
    q = sa.select(feed_entries.c.day).where(feed_entries.c.paper_id == paper_id).order_by("day")
    return [r[0] for r in conn.execute(q)]


def entries_for(conn: Connection, paper_id: str) -> list[FeedEntry]:
    """The feed entries of one paper, oldest first."""
    q = sa.select(feed_entries).where(feed_entries.c.paper_id == paper_id).order_by("day")
    return [
        FeedEntry(r.paper_id, r.day, r.submitted_by, r.submitted_at, r.source)
        for r in conn.execute(q)
    ]


def count_entries(conn: Connection) -> int:
    """How many feed entries are stored."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(feed_entries)).scalar_one())


def entries_for_many(conn: Connection, paper_ids: Sequence[str]) -> dict[str, list[FeedEntry]]:
    """The feed entries of many papers at once, by paper id."""
    out: dict[str, list[FeedEntry]] = {}
    if not paper_ids:
        return out
    q = (
        sa.select(feed_entries)
        .where(feed_entries.c.paper_id.in_(list(paper_ids)))
        .order_by(feed_entries.c.paper_id, feed_entries.c.day)
    )
    for r in conn.execute(q):
        out.setdefault(r.paper_id, []).append(
            FeedEntry(r.paper_id, r.day, r.submitted_by, r.submitted_at, r.source)
        )
    return out

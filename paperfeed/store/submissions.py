"""Community submissions: who put which paper on which day's feed (one submission per paper)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.errors import Conflict
from paperfeed.models import FeedEntry
from paperfeed.store.db import insert_for
from paperfeed.store.feed import add_entries
from paperfeed.store.schema import feed_entries, submissions, users


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def submission_of(conn: Connection, paper_id: str) -> tuple[str | None, date, datetime] | None:
    """Who submitted a paper (username, None once deleted), on which day and when; or None."""
    row = conn.execute(
        sa.select(users.c.username, submissions.c.day, submissions.c.submitted_at)
        .select_from(submissions.outerjoin(users, users.c.id == submissions.c.user_id))
        .where(submissions.c.paper_id == paper_id)
    ).first()
    return (row.username, row.day, row.submitted_at) if row else None


def count_since(conn: Connection, user_id: int, since: datetime) -> int:
    """How many papers a user submitted since a time (for the daily cap)."""
    q = (
        sa.select(sa.func.count())
        .select_from(submissions)
        .where(submissions.c.user_id == user_id, submissions.c.submitted_at >= since)
    )
    return int(conn.execute(q).scalar_one())


def add_submission(
    conn: Connection,
    paper_id: str,
    user_id: int,
    username: str,
    *,
    day: date,
    at: datetime | None = None,
) -> None:
    """Record a submission and feature the paper on that day's feed as submitted by the user."""
    at = at or _now()
    stmt = (
        insert_for(conn, submissions)
        .values(paper_id=paper_id, user_id=user_id, day=day, submitted_at=at)
        .on_conflict_do_nothing()
        .returning(submissions.c.paper_id)
    )
    if conn.execute(stmt).first() is None:
        raise Conflict(f"{paper_id} has already been submitted")
    add_entries(conn, [FeedEntry(paper_id, day, username, at, "community")])


def feature(conn: Connection, paper_id: str, day: date, username: str) -> None:
    """Put a paper on a day's feed on a curator's behalf (no submission rules apply)."""
    add_entries(conn, [FeedEntry(paper_id, day, username, _now(), "curator")])


def unfeature(conn: Connection, paper_id: str, day: date | None = None) -> int:
    """Take a paper off one day's feed, or off every day when day is None."""
    q = sa.delete(feed_entries).where(feed_entries.c.paper_id == paper_id)
    if day is not None:
        q = q.where(feed_entries.c.day == day)
    return int(conn.execute(q).rowcount or 0)

"""Feed entries: which papers were featured on which day, ranked by upvotes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import FeedEntry, FeedFilter, FeedItem
from paperfeed.store import claims as claim_store
from paperfeed.store.db import insert_for
from paperfeed.store.papers import narrowed, paper_columns, paper_from_row
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
            "submitter_fullname": e.submitter_fullname,
            "submitter_avatar": e.submitter_avatar,
            "listed_at": e.listed_at.replace(tzinfo=None) if e.listed_at else None,
            "author_participating": e.author_participating,
        }
        for e in entries
    }
    stmt = insert_for(conn, feed_entries).values(list(rows.values()))
    new = stmt.excluded  # type: ignore[attr-defined]
    keep_first = ("submitted_by", "submitted_at", "submitter_fullname", "submitter_avatar")
    latest_wins = ("listed_at", "author_participating")  # an author may join the thread later
    stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["paper_id", "day"],
        set_={
            **{c: sa.func.coalesce(feed_entries.c[c], new[c]) for c in keep_first},
            **{c: sa.func.coalesce(new[c], feed_entries.c[c]) for c in latest_wins},
        },
    )
    return int(conn.execute(stmt).rowcount or 0)


_ENTRY_FIELDS = (
    "day",
    "submitted_by",
    "submitted_at",
    "submitter_fullname",
    "submitter_avatar",
    "listed_at",
    "author_participating",
)


def item_columns() -> list[Any]:
    """The paper and feed-entry columns that item_from_row needs (select from papers, join)."""
    cols: list[Any] = [feed_entries.c[f] for f in _ENTRY_FIELDS if f != "author_participating"]
    # authors: the Hub's flag, or a confirmed author commenting here on their paper.
    joined = sa.or_(
        feed_entries.c.author_participating == sa.true(), claim_store.participating(papers.c.id)
    )
    return [*paper_columns(), *cols, joined.label("author_participating")]


def item_from_row(r: Any) -> FeedItem:
    """A FeedItem from a row selected with item_columns()."""
    m = r._mapping
    return FeedItem(paper_from_row(r), **{f: m[f] for f in _ENTRY_FIELDS})


def feed_between(
    conn: Connection,
    start: date,
    end: date,
    *,
    limit: int = 50,
    offset: int = 0,
    submitted_by: str | None = None,
    newest_first: bool = False,
    only: FeedFilter | None = None,
) -> list[FeedItem]:
    """Papers featured from start to end inclusive, most upvoted (or newest) first, then by id."""
    if newest_first:
        order = [feed_entries.c.day.desc(), feed_entries.c.listed_at.desc(), upvotes_expr.desc()]
    else:
        order = [upvotes_expr.desc(), feed_entries.c.day.desc()]
    q = (
        sa.select(*item_columns())
        .join(feed_entries, feed_entries.c.paper_id == papers.c.id)
        .where(feed_entries.c.day.between(start, end), papers.c.hidden == sa.false())
        .order_by(*order, papers.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if submitted_by is not None:  # the web API's ?submitter= filter
        q = q.where(feed_entries.c.submitted_by == submitted_by)
    return [item_from_row(r) for r in conn.execute(narrowed(q, only))]


def count_between(
    conn: Connection,
    start: date,
    end: date,
    *,
    submitted_by: str | None = None,
    only: FeedFilter | None = None,
) -> int:
    """How many visible papers were featured from start to end inclusive."""
    q = (
        sa.select(sa.func.count())
        .select_from(feed_entries.join(papers, feed_entries.c.paper_id == papers.c.id))
        .where(feed_entries.c.day.between(start, end), papers.c.hidden == sa.false())
    )
    if submitted_by is not None:
        q = q.where(feed_entries.c.submitted_by == submitted_by)
    return int(conn.execute(narrowed(q, only)).scalar_one())


def _day_query(agg: Any, only: FeedFilter | None) -> Any:
    q = sa.select(agg(feed_entries.c.day))
    if only:  # only days with a paper the filter keeps (a visible one)
        q = q.select_from(feed_entries.join(papers, feed_entries.c.paper_id == papers.c.id))
        q = q.where(papers.c.hidden == sa.false())
    return narrowed(q, only)


def latest_day(conn: Connection, only: FeedFilter | None = None) -> date | None:
    """The most recent day with a featured paper (that the filter keeps)."""
    return conn.execute(_day_query(sa.func.max, only)).scalar_one_or_none()


def day_before(conn: Connection, day: date, only: FeedFilter | None = None) -> date | None:
    """The nearest earlier day with featured papers."""
    q = _day_query(sa.func.max, only).where(feed_entries.c.day < day)
    return conn.execute(q).scalar_one_or_none()


def day_after(conn: Connection, day: date, only: FeedFilter | None = None) -> date | None:
    """The nearest later day with featured papers."""
    q = _day_query(sa.func.min, only).where(feed_entries.c.day > day)
    return conn.execute(q).scalar_one_or_none()


def days_for(conn: Connection, paper_id: str) -> list[date]:
    """The days a paper was featured on."""
    q = sa.select(feed_entries.c.day).where(feed_entries.c.paper_id == paper_id).order_by("day")
    return [r[0] for r in conn.execute(q)]


def entries_for(conn: Connection, paper_id: str) -> list[FeedEntry]:
    """The feed entries of one paper, oldest first."""
    q = sa.select(feed_entries).where(feed_entries.c.paper_id == paper_id).order_by("day")
    return [_entry(r) for r in conn.execute(q)]


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
        out.setdefault(r.paper_id, []).append(_entry(r))
    return out


def _entry(r: Any) -> FeedEntry:
    m = r._mapping
    return FeedEntry(r.paper_id, source=r.source, **{f: m[f] for f in _ENTRY_FIELDS})


def day_counts(conn: Connection) -> list[tuple[date, int, Any]]:
    """Every day with visible featured papers: the day, how many, and when one last changed."""
    q = (
        sa.select(feed_entries.c.day, sa.func.count(), sa.func.max(papers.c.modified_at))
        .join(papers, feed_entries.c.paper_id == papers.c.id)
        .where(papers.c.hidden == sa.false())
        .group_by(feed_entries.c.day)
        .order_by(feed_entries.c.day)
    )
    return [(r[0], int(r[1]), r[2]) for r in conn.execute(q)]


def featured_ids(
    conn: Connection, start: date, end: date, *, limit: int, offset: int = 0
) -> list[tuple[str, Any]]:
    """Visible papers featured from start to end inclusive, by id, with when each last changed."""
    q = (
        sa.select(papers.c.id, papers.c.modified_at)
        .join(feed_entries, feed_entries.c.paper_id == papers.c.id)
        .where(feed_entries.c.day.between(start, end), papers.c.hidden == sa.false())
        .group_by(papers.c.id, papers.c.modified_at)
        .order_by(papers.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [(r[0], r[1]) for r in conn.execute(q)]

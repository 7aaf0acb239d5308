"""Stored trending scores and the raw inputs the trending job reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import FeedFilter, FeedItem, TrendingScore
from paperfeed.store.feed import entries_for_many, item_columns, item_from_row
from paperfeed.store.papers import narrowed, paper_columns, paper_from_row
from paperfeed.store.schema import feed_entries, papers, signals, trending_scores


def replace_scores(conn: Connection, scores: Sequence[TrendingScore]) -> int:
    """Swap the whole trending table for new scores in the caller's transaction."""
    conn.execute(sa.delete(trending_scores))
    rows: list[dict[str, Any]] = [
        {
            "paper_id": s.paper_id,
            "score": s.score,
            "votes_24h": s.votes_24h,
            "stars_gained": s.stars_gained,
            "computed_at": s.computed_at,
        }
        for s in scores
    ]
    for i in range(0, len(rows), 1000):
        conn.execute(trending_scores.insert(), rows[i : i + 1000])
    return len(rows)


def top(
    conn: Connection, *, limit: int = 50, offset: int = 0
) -> list[tuple[FeedItem, TrendingScore]]:
    """Visible papers by trending score, best first (ties by id), with their latest feed day."""
    q = (
        sa.select(
            *paper_columns(),
            trending_scores.c.score,
            trending_scores.c.votes_24h,
            trending_scores.c.stars_gained,
            trending_scores.c.computed_at,
        )
        .join(trending_scores, trending_scores.c.paper_id == papers.c.id)
        .where(papers.c.hidden == sa.false(), trending_scores.c.score > 0)
        .order_by(trending_scores.c.score.desc(), papers.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = list(conn.execute(q))
    # The latest feed entry of just these papers: grouping the whole feed costs ~100 ms at 1M.
    entries = entries_for_many(conn, [r.id for r in rows])
    out = []
    for r in rows:
        paper = paper_from_row(r)
        mine = entries.get(paper.id)
        if mine:
            item = FeedItem.of(paper, mine[-1])  # oldest first: the last is the latest day
        else:
            item = FeedItem(
                paper, paper.published.date() if paper.published else r.computed_at.date()
            )
        out.append(
            (
                item,
                TrendingScore(paper.id, r.score, r.votes_24h, r.stars_gained, r.computed_at),
            )
        )
    return out


def count(conn: Connection) -> int:
    """How many visible papers have a positive trending score."""
    q = (
        sa.select(sa.func.count())
        .select_from(trending_scores.join(papers, papers.c.id == trending_scores.c.paper_id))
        .where(papers.c.hidden == sa.false(), trending_scores.c.score > 0)
    )
    return int(conn.execute(q).scalar_one())


def score_of(conn: Connection, paper_id: str) -> TrendingScore | None:
    """One paper's stored score, or None."""
    r = conn.execute(
        sa.select(trending_scores).where(trending_scores.c.paper_id == paper_id)
    ).first()
    return (
        TrendingScore(r.paper_id, r.score, r.votes_24h, r.stars_gained, r.computed_at)
        if r
        else None
    )


def featured_upvotes_since(conn: Connection, since: date) -> list[tuple[str, date, int]]:
    """Imported upvotes of papers first featured since a day: (paper id, first day, ext upvotes)."""
    first = sa.func.min(feed_entries.c.day)
    q = (
        sa.select(papers.c.id, first, papers.c.ext_upvotes)
        .join(feed_entries, feed_entries.c.paper_id == papers.c.id)
        .where(papers.c.ext_upvotes > 0)
        .group_by(papers.c.id, papers.c.ext_upvotes)
        # The first day ever, not the first in the window: a re-featured old paper's imported
        # upvotes belong to its first day.
        .having(first >= since)
    )
    return [(r[0], r[1], int(r[2])) for r in conn.execute(q)]


def star_series_since(
    conn: Connection, since: datetime, kind: str = "github_stars"
) -> dict[str, list[tuple[datetime, float]]]:
    """Star observations per paper since a time, plus the last one before it as a baseline."""
    q = (
        sa.select(signals.c.paper_id, signals.c.observed_at, signals.c.value)
        .where(signals.c.kind == kind, signals.c.observed_at >= since)
        .order_by(signals.c.paper_id, signals.c.observed_at)
    )
    out: dict[str, list[tuple[datetime, float]]] = {}
    for r in conn.execute(q):
        out.setdefault(r.paper_id, []).append((r.observed_at, float(r.value)))
    if not out:
        return out
    ids = list(out)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        prev = (
            sa.select(signals.c.paper_id, sa.func.max(signals.c.observed_at).label("at"))
            .where(
                signals.c.kind == kind,
                signals.c.observed_at < since,
                signals.c.paper_id.in_(chunk),
            )
            .group_by(signals.c.paper_id)
            .subquery()
        )
        base = sa.select(signals.c.paper_id, signals.c.observed_at, signals.c.value).join(
            prev,
            sa.and_(
                prev.c.paper_id == signals.c.paper_id,
                prev.c.at == signals.c.observed_at,
                signals.c.kind == kind,
            ),
        )
        for r in conn.execute(base):
            out[r.paper_id].insert(0, (r.observed_at, float(r.value)))
    return out


FEED_SORTS = ("upvotes", "publishedAt", "trending")


def _feed_filter(start: date | None, end: date | None, submitter: str | None) -> list[Any]:
    conds: list[Any] = [papers.c.hidden == sa.false()]
    if start is not None and end is not None:
        conds.append(feed_entries.c.day.between(start, end))
    if submitter is not None:
        conds.append(feed_entries.c.submitted_by == submitter)
    return conds


def feed_sorted(
    conn: Connection,
    start: date | None,
    end: date | None,
    *,
    submitter: str | None = None,
    sort: str = "upvotes",
    limit: int = 50,
    offset: int = 0,
    only: FeedFilter | None = None,
) -> list[FeedItem]:
    """Featured papers in a period (or all days), optionally by one submitter, in a chosen order."""
    from paperfeed.store.schema import upvotes_expr

    order: list[Any]
    if sort == "trending":
        order = [sa.func.coalesce(trending_scores.c.score, 0.0).desc(), upvotes_expr.desc()]
    elif sort == "publishedAt":
        order = [papers.c.published.desc()]
    else:
        order = [upvotes_expr.desc()]
    q = (
        sa.select(*item_columns())
        .join(feed_entries, feed_entries.c.paper_id == papers.c.id)
        .outerjoin(trending_scores, trending_scores.c.paper_id == papers.c.id)
        .where(*_feed_filter(start, end, submitter))
        .order_by(*order, feed_entries.c.day.desc(), papers.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [item_from_row(r) for r in conn.execute(narrowed(q, only))]


def count_sorted(
    conn: Connection,
    start: date | None,
    end: date | None,
    *,
    submitter: str | None = None,
    only: FeedFilter | None = None,
) -> int:
    """How many rows feed_sorted has in total."""
    q = (
        sa.select(sa.func.count())
        .select_from(feed_entries.join(papers, feed_entries.c.paper_id == papers.c.id))
        .where(*_feed_filter(start, end, submitter))
    )
    return int(conn.execute(narrowed(q, only)).scalar_one())

"""Community upvotes: one per member per paper, with papers.votes kept in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.errors import NotFound
from paperfeed.store.db import insert_for
from paperfeed.store.papers import next_revs
from paperfeed.store.schema import papers, upvotes_expr, votes


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _visible(conn: Connection, paper_id: str) -> None:
    hidden = conn.execute(sa.select(papers.c.hidden).where(papers.c.id == paper_id)).first()
    if hidden is None or hidden[0]:
        raise NotFound(f"paper {paper_id} does not exist or is hidden: it cannot be voted on")


def upvotes_of(conn: Connection, paper_id: str) -> int:
    """The upvotes shown for a paper (imported plus community votes)."""
    return int(conn.execute(sa.select(upvotes_expr).where(papers.c.id == paper_id)).scalar_one())


def add_vote(conn: Connection, user_id: int, paper_id: str, *, at: datetime | None = None) -> bool:
    """Upvote a visible paper; True when this is a new vote (a repeat changes nothing)."""
    _visible(conn, paper_id)
    stmt = (
        insert_for(conn, votes)
        .values(user_id=user_id, paper_id=paper_id, created_at=at or _now())
        .on_conflict_do_nothing()
        .returning(votes.c.paper_id)
    )
    if conn.execute(stmt).first() is None:  # rowcount is unreliable for ON CONFLICT on psycopg
        return False
    adjust_count(conn, paper_id, +1)
    return True


def remove_vote(conn: Connection, user_id: int, paper_id: str) -> bool:
    """Take back an upvote; True when there was one."""
    res = conn.execute(
        sa.delete(votes).where(votes.c.user_id == user_id, votes.c.paper_id == paper_id)
    )
    if not res.rowcount:
        return False
    adjust_count(conn, paper_id, -1)
    return True


def voted(conn: Connection, user_id: int, paper_ids: Iterable[str]) -> set[str]:
    """Which of these papers the user has upvoted."""
    ids = list(dict.fromkeys(paper_ids))
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        q = sa.select(votes.c.paper_id).where(
            votes.c.user_id == user_id, votes.c.paper_id.in_(ids[i : i + 500])
        )
        out.update(r[0] for r in conn.execute(q))
    return out


def votes_since(conn: Connection, since: datetime) -> list[tuple[str, datetime]]:
    """Every community vote cast since a time, as (paper id, when), for trending."""
    q = sa.select(votes.c.paper_id, votes.c.created_at).where(votes.c.created_at >= since)
    return [(r.paper_id, r.created_at) for r in conn.execute(q)]


def count_votes(conn: Connection, paper_id: str) -> int:
    """How many community votes a paper has in the votes table."""
    q = sa.select(sa.func.count()).select_from(votes).where(votes.c.paper_id == paper_id)
    return int(conn.execute(q).scalar_one())


def adjust_count(conn: Connection, paper_id: str, delta: int) -> None:
    """Change a paper's community vote count and give it a new change number."""
    # A new change number lets the keyword index's upvote sort follow the vote.
    conn.execute(
        sa.update(papers)
        .where(papers.c.id == paper_id)
        .values(votes=papers.c.votes + delta, rev=next_revs(conn, 1))
    )

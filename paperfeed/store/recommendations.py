"""Cached recommendations per member and scope, with what they were computed from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.schema import paper_vectors, papers, recommendation_runs, recommendations


@dataclass(slots=True, frozen=True)
class RunInfo:
    """When and from what a member's recommendations for one scope were computed."""

    user_id: int
    scope: str
    profile_key: str
    corpus_rev: int
    method: str
    positives: int
    negatives: int
    computed_at: datetime


@dataclass(slots=True)
class StoredRec:
    """One cached recommendation: paper, score and why."""

    paper_id: str
    score: float
    reason: dict[str, Any] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def get_run(conn: Connection, user_id: int, scope: str) -> RunInfo | None:
    """The last computation for a member and scope, or None."""
    r = conn.execute(
        sa.select(recommendation_runs).where(
            recommendation_runs.c.user_id == user_id, recommendation_runs.c.scope == scope
        )
    ).first()
    if r is None:
        return None
    return RunInfo(
        int(r.user_id),
        r.scope,
        r.profile_key,
        int(r.corpus_rev),
        r.method,
        int(r.positives),
        int(r.negatives),
        r.computed_at,
    )


def replace(
    conn: Connection,
    user_id: int,
    scope: str,
    recs: Sequence[StoredRec],
    *,
    profile_key: str,
    corpus_rev: int,
    method: str,
    positives: int,
    negatives: int,
) -> None:
    """Swap in a new ranked list for a member and scope (in the caller's transaction)."""
    conn.execute(
        sa.delete(recommendations).where(
            recommendations.c.user_id == user_id, recommendations.c.scope == scope
        )
    )
    conn.execute(
        sa.delete(recommendation_runs).where(
            recommendation_runs.c.user_id == user_id, recommendation_runs.c.scope == scope
        )
    )
    if recs:
        conn.execute(
            recommendations.insert(),
            [
                {
                    "user_id": user_id,
                    "scope": scope,
                    "rank": i,
                    "paper_id": r.paper_id,
                    "score": float(r.score),
                    "reason": r.reason,
                }
                for i, r in enumerate(recs)
            ],
        )
    conn.execute(
        recommendation_runs.insert().values(
            user_id=user_id,
            scope=scope,
            profile_key=profile_key,
            corpus_rev=corpus_rev,
            method=method,
            positives=positives,
            negatives=negatives,
            computed_at=_now(),
        )
    )


def get(conn: Connection, user_id: int, scope: str, *, limit: int = 100) -> list[StoredRec]:
    """The cached list for a member and scope, best first, without papers hidden since."""
    q = (
        sa.select(recommendations.c.paper_id, recommendations.c.score, recommendations.c.reason)
        .select_from(recommendations.join(papers, papers.c.id == recommendations.c.paper_id))
        .where(
            recommendations.c.user_id == user_id,
            recommendations.c.scope == scope,
            papers.c.hidden == sa.false(),
        )
        .order_by(recommendations.c.rank)
        .limit(limit)
    )
    return [StoredRec(r.paper_id, float(r.score), dict(r.reason or {})) for r in conn.execute(q)]


def drop_scope(conn: Connection, user_id: int, scope: str) -> None:
    """Forget a scope's cache (e.g. its collection was deleted)."""
    for t in (recommendations, recommendation_runs):
        conn.execute(sa.delete(t).where(t.c.user_id == user_id, t.c.scope == scope))


def recent_vectors(
    conn: Connection, model: str, *, limit: int, exclude_hidden: bool = True
) -> list[tuple[str, bytes, datetime | None]]:
    """The newest papers (by first version) that have a vector of this model: (id, vector, date)."""
    q = (
        sa.select(paper_vectors.c.paper_id, paper_vectors.c.vector, papers.c.published)
        .select_from(paper_vectors.join(papers, papers.c.id == paper_vectors.c.paper_id))
        .where(paper_vectors.c.model == model)
        .order_by(papers.c.published.desc().nulls_last(), papers.c.id.desc())
        .limit(limit)
    )
    if exclude_hidden:
        q = q.where(papers.c.hidden == sa.false())
    return [(r.paper_id, bytes(r.vector), r.published) for r in conn.execute(q)]


def vectors_of(conn: Connection, paper_ids: Sequence[str], model: str) -> dict[str, bytes]:
    """Stored vectors of a model for these papers (missing ones are absent)."""
    ids = list(dict.fromkeys(paper_ids))
    out: dict[str, bytes] = {}
    for i in range(0, len(ids), 500):
        q = sa.select(paper_vectors.c.paper_id, paper_vectors.c.vector).where(
            paper_vectors.c.paper_id.in_(ids[i : i + 500]), paper_vectors.c.model == model
        )
        out.update({r.paper_id: bytes(r.vector) for r in conn.execute(q)})
    return out


def published_of(conn: Connection, paper_ids: Sequence[str]) -> dict[str, datetime | None]:
    """First-version dates of these papers."""
    ids = list(dict.fromkeys(paper_ids))
    out: dict[str, datetime | None] = {}
    for i in range(0, len(ids), 500):
        q = sa.select(papers.c.id, papers.c.published).where(papers.c.id.in_(ids[i : i + 500]))
        out.update({r.id: r.published for r in conn.execute(q)})
    return out


def texts_of(conn: Connection, paper_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Titles and abstracts of these papers: id -> (title, abstract)."""
    ids = list(dict.fromkeys(paper_ids))
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(ids), 500):
        q = sa.select(papers.c.id, papers.c.title, papers.c.abstract).where(
            papers.c.id.in_(ids[i : i + 500])
        )
        out.update({r.id: (r.title, r.abstract) for r in conn.execute(q)})
    return out

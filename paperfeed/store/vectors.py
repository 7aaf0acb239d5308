"""Paper embedding vectors: the store's copy, which the ANN index is derived from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import insert_for
from paperfeed.store.papers import next_revs
from paperfeed.store.schema import counters, paper_vectors, papers

VECTOR_REV = "vector_rev"


@dataclass(slots=True)
class EmbedCandidate:
    """A visible paper whose vector is missing, from another model, or older than its text."""

    paper_id: str
    title: str
    abstract: str
    rev: int
    text_hash: str | None  # of the stored vector's text, None when there is no vector
    model: str | None  # of the stored vector


@dataclass(slots=True)
class VectorRow:
    """A stored vector and whether its paper is hidden now."""

    rev: int
    paper_id: str
    vector: bytes
    hidden: bool


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _needs_vector(model: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        papers.c.hidden == sa.false(),
        sa.or_(
            paper_vectors.c.paper_id.is_(None),
            paper_vectors.c.model != model,
            paper_vectors.c.paper_rev < papers.c.rev,
        ),
    )


def papers_to_embed(
    conn: Connection,
    model: str,
    *,
    after_rev: int = 0,
    limit: int = 256,
    upto_rev: int | None = None,
) -> list[EmbedCandidate]:
    """The next papers (in change order after after_rev) whose vector must be made or checked."""
    j = papers.outerjoin(paper_vectors, paper_vectors.c.paper_id == papers.c.id)
    q = (
        sa.select(
            papers.c.id,
            papers.c.title,
            papers.c.abstract,
            papers.c.rev,
            paper_vectors.c.text_hash,
            paper_vectors.c.model,
        )
        .select_from(j)
        .where(papers.c.rev > after_rev, _needs_vector(model), *_upto(upto_rev))
        .order_by(papers.c.rev)
        .limit(limit)
    )
    return [
        EmbedCandidate(r.id, r.title, r.abstract, int(r.rev), r.text_hash, r.model)
        for r in conn.execute(q)
    ]


def _upto(upto_rev: int | None) -> list[sa.ColumnElement[bool]]:
    return [] if upto_rev is None else [papers.c.rev <= upto_rev]


def count_to_embed(
    conn: Connection, model: str, *, after_rev: int = 0, upto_rev: int | None = None
) -> int:
    """How many visible papers need their vector made or checked."""
    j = papers.outerjoin(paper_vectors, paper_vectors.c.paper_id == papers.c.id)
    q = (
        sa.select(sa.func.count())
        .select_from(j)
        .where(_needs_vector(model), papers.c.rev > after_rev, *_upto(upto_rev))
    )
    return int(conn.execute(q).scalar_one())


def save_vectors(
    conn: Connection, model: str, dim: int, rows: Sequence[tuple[str, bytes, str, int]]
) -> None:
    """Insert or replace vectors given as (paper_id, float32 bytes, text_hash, paper_rev)."""
    if not rows:
        return
    rev = next_revs(conn, len(rows), VECTOR_REV)
    now = _now()
    values = [
        {
            "paper_id": pid,
            "model": model,
            "dim": dim,
            "vector": vec,
            "text_hash": h,
            "paper_rev": prev,
            "rev": rev + i,
            "created_at": now,
        }
        for i, (pid, vec, h, prev) in enumerate(rows)
    ]
    stmt = insert_for(conn, paper_vectors)
    stmt = stmt.on_conflict_do_update(
        index_elements=[paper_vectors.c.paper_id],
        set_={
            c: getattr(stmt.excluded, c)
            for c in ("model", "dim", "vector", "text_hash", "paper_rev", "rev", "created_at")
        },
    )
    conn.execute(stmt, values)


def touch_vectors(conn: Connection, rows: Sequence[tuple[str, int]]) -> None:
    """Mark vectors as checked at a paper revision, for papers whose text did not change."""
    for pid, prev in rows:
        conn.execute(
            sa.update(paper_vectors).where(paper_vectors.c.paper_id == pid).values(paper_rev=prev)
        )


def vectors_changed_since(
    conn: Connection, rev: int, model: str, *, limit: int = 5000
) -> list[VectorRow]:
    """Vectors of a model whose change number is above rev, in change order."""
    q = (
        sa.select(
            paper_vectors.c.rev, paper_vectors.c.paper_id, paper_vectors.c.vector, papers.c.hidden
        )
        .select_from(paper_vectors.join(papers, papers.c.id == paper_vectors.c.paper_id))
        .where(paper_vectors.c.rev > rev, paper_vectors.c.model == model)
        .order_by(paper_vectors.c.rev)
        .limit(limit)
    )
    return [
        VectorRow(int(r.rev), r.paper_id, bytes(r.vector), bool(r.hidden)) for r in conn.execute(q)
    ]


def get_vector(conn: Connection, paper_id: str, model: str) -> bytes | None:
    """One paper's vector for a model, or None."""
    q = sa.select(paper_vectors.c.vector).where(
        paper_vectors.c.paper_id == paper_id, paper_vectors.c.model == model
    )
    v = conn.execute(q).scalar_one_or_none()
    return bytes(v) if v is not None else None


def has_vectors(conn: Connection, paper_ids: Sequence[str], model: str) -> set[str]:
    """Which of these papers have a vector of this model."""
    q = sa.select(paper_vectors.c.paper_id).where(
        paper_vectors.c.paper_id.in_(list(paper_ids)), paper_vectors.c.model == model
    )
    return {r[0] for r in conn.execute(q)}


def count_vectors(conn: Connection, model: str) -> int:
    """How many vectors of a model are stored."""
    q = sa.select(sa.func.count()).select_from(paper_vectors).where(paper_vectors.c.model == model)
    return int(conn.execute(q).scalar_one())


def max_vector_rev(conn: Connection) -> int:
    """The highest vector change number handed out so far."""
    q = sa.select(counters.c.value).where(counters.c.name == VECTOR_REV)
    return int(conn.execute(q).scalar_one())


# --- jobs: the queue splits the embedding backlog into change-number ranges ---


def embed_ranges(conn: Connection, model: str, size: int) -> list[tuple[int, int]]:
    """The backlog as (after_rev, upto_rev] ranges of at most `size` papers each, in change order."""
    j = papers.outerjoin(paper_vectors, paper_vectors.c.paper_id == papers.c.id)
    numbered = (
        sa.select(papers.c.rev, sa.func.row_number().over(order_by=papers.c.rev).label("n"))
        .select_from(j)
        .where(_needs_vector(model))
        .subquery()
    )
    # Every size-th change number ends a range; the last one ends the backlog.
    q = sa.select(numbered.c.rev).where(numbered.c.n % size == 0).order_by(numbered.c.rev)
    ends = [int(r[0]) for r in conn.execute(q)]
    last = conn.execute(sa.select(sa.func.max(numbered.c.rev))).scalar_one()
    if last is not None and (not ends or ends[-1] != int(last)):
        ends.append(int(last))
    # No backlog, no ranges (the scheduled index run after everything is embedded).
    return list(zip([0, *ends[:-1]], ends, strict=True)) if ends else []

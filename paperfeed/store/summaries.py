"""Summaries a configured model wrote: one per paper, with the model and a hash of what it read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.schema import paper_summaries, papers


@dataclass(frozen=True, slots=True)
class Summary:
    """A summary written here by a model (Hugging Face's own summaries live on the paper)."""

    paper_id: str
    version: int
    model: str
    input_hash: str
    summary: str
    created_at: datetime


def summary_of(conn: Connection, paper_id: str) -> Summary | None:
    """The stored summary of a paper, if any."""
    row = conn.execute(
        sa.select(paper_summaries).where(paper_summaries.c.paper_id == paper_id)
    ).first()
    return (
        Summary(row.paper_id, row.version, row.model, row.input_hash, row.summary, row.created_at)
        if row
        else None
    )


def hashes_of(conn: Connection, paper_ids: Sequence[str]) -> dict[str, str]:
    """The input hash of each stored summary among these papers."""
    if not paper_ids:
        return {}
    rows = conn.execute(
        sa.select(paper_summaries.c.paper_id, paper_summaries.c.input_hash).where(
            paper_summaries.c.paper_id.in_(list(paper_ids))
        )
    )
    return {pid: h for pid, h in rows}


def touch_summary(conn: Connection, paper_id: str, version: int) -> None:
    """Mark a summary as checked against a newer version of its paper (the input had not changed)."""
    conn.execute(
        sa.update(paper_summaries)
        .where(paper_summaries.c.paper_id == paper_id)
        .values(version=version)
    )


def save_summary(conn: Connection, s: Summary) -> None:
    """Store (or replace) one paper's summary."""
    conn.execute(sa.delete(paper_summaries).where(paper_summaries.c.paper_id == s.paper_id))
    conn.execute(
        sa.insert(paper_summaries).values(
            paper_id=s.paper_id,
            version=s.version,
            model=s.model,
            input_hash=s.input_hash,
            summary=s.summary,
            created_at=s.created_at,
        )
    )


def papers_lacking(conn: Connection, *, limit: int) -> list[tuple[str, int, str, str]]:
    """(id, version, title, abstract) of visible papers with no HF summary whose summary here is missing or of an older version."""
    rows = conn.execute(
        sa.select(papers.c.id, papers.c.version, papers.c.title, papers.c.abstract)
        .outerjoin(paper_summaries, paper_summaries.c.paper_id == papers.c.id)
        .where(
            papers.c.hidden.is_(False),
            sa.or_(papers.c.ai_summary.is_(None), papers.c.ai_summary == ""),
            sa.or_(
                paper_summaries.c.paper_id.is_(None),
                paper_summaries.c.version < papers.c.version,
            ),
            papers.c.abstract != "",
        )
        .order_by(papers.c.published.desc().nulls_last(), papers.c.id.desc())
        .limit(limit)
    )
    return [(r.id, r.version, r.title, r.abstract) for r in rows]

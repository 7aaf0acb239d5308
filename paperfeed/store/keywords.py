"""Paper keywords with their source: Hugging Face's ai_keywords ('hf') or extracted here ('local')."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import insert_for
from paperfeed.store.schema import keyword_runs, paper_keywords, papers

SOURCES = ("hf", "local")
MAX_CHARS = 300  # the column's width; longer phrases are not keywords


@dataclass(slots=True)
class KeywordCandidate:
    """A visible paper whose keywords are missing, from another extractor, or older than it."""

    paper_id: str
    title: str
    abstract: str
    ai_keywords: list[str]
    rev: int
    text_hash: str | None  # of the text of the stored run, None when there is none
    extractor: str | None


@dataclass(frozen=True, slots=True)
class PaperKeyword:
    """One stored keyword."""

    keyword: str
    source: str
    rank: int
    score: float


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _needs_run(extractor: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        papers.c.hidden == sa.false(),
        sa.or_(
            keyword_runs.c.paper_id.is_(None),
            keyword_runs.c.extractor != extractor,
            keyword_runs.c.paper_rev < papers.c.rev,
        ),
    )


def _candidates(
    conn: Connection, where: sa.ColumnElement[bool], limit: int
) -> list[KeywordCandidate]:
    j = papers.outerjoin(keyword_runs, keyword_runs.c.paper_id == papers.c.id)
    q = (
        sa.select(
            papers.c.id,
            papers.c.title,
            papers.c.abstract,
            papers.c.ai_keywords,
            papers.c.rev,
            keyword_runs.c.text_hash,
            keyword_runs.c.extractor,
        )
        .select_from(j)
        .where(where)
        .order_by(papers.c.rev)
        .limit(limit)
    )
    return [
        KeywordCandidate(
            r.id,
            r.title,
            r.abstract or "",
            [k for k in (r.ai_keywords or []) if isinstance(k, str)],
            int(r.rev),
            r.text_hash,
            r.extractor,
        )
        for r in conn.execute(q)
    ]


def papers_to_extract(
    conn: Connection, extractor: str, *, after_rev: int = 0, limit: int = 256
) -> list[KeywordCandidate]:
    """The next papers (in change order after after_rev) whose keywords must be made or checked."""
    return _candidates(conn, sa.and_(papers.c.rev > after_rev, _needs_run(extractor)), limit)


def candidates_among(
    conn: Connection, extractor: str, paper_ids: Sequence[str]
) -> list[KeywordCandidate]:
    """Those of these papers whose keywords must be made or checked (the embedding pass's)."""
    if not paper_ids:
        return []
    where = sa.and_(papers.c.id.in_(list(paper_ids)), _needs_run(extractor))
    return _candidates(conn, where, len(paper_ids))


def count_to_extract(conn: Connection, extractor: str) -> int:
    """How many visible papers need their keywords made or checked."""
    j = papers.outerjoin(keyword_runs, keyword_runs.c.paper_id == papers.c.id)
    q = sa.select(sa.func.count()).select_from(j).where(_needs_run(extractor))
    return int(conn.execute(q).scalar_one())


def save_keywords(
    conn: Connection,
    paper_id: str,
    source: str,
    keywords: Sequence[tuple[str, float]],
) -> None:
    """Replace a paper's keywords of one source with these (phrase, score), best first."""
    if source not in SOURCES:
        raise ValueError(f"unknown keyword source {source!r}: use one of {', '.join(SOURCES)}")
    conn.execute(
        sa.delete(paper_keywords).where(
            paper_keywords.c.paper_id == paper_id, paper_keywords.c.source == source
        )
    )
    seen: set[str] = set()
    rows: list[dict[str, object]] = []
    for phrase, score in keywords:
        phrase = phrase.strip()[:MAX_CHARS]
        if not phrase or phrase.lower() in seen:
            continue
        seen.add(phrase.lower())
        rows.append(
            {
                "paper_id": paper_id,
                "source": source,
                "rank": len(rows),
                "keyword": phrase,
                "score": float(score),
            }
        )
    if rows:
        conn.execute(sa.insert(paper_keywords), rows)


def record_run(conn: Connection, rows: Sequence[tuple[str, str, str, int]]) -> None:
    """Note (paper_id, extractor, text_hash, paper_rev): these papers' keywords are current."""
    if not rows:
        return
    now = _now()
    stmt = insert_for(conn, keyword_runs)
    stmt = stmt.on_conflict_do_update(
        index_elements=[keyword_runs.c.paper_id],
        set_={
            c: getattr(stmt.excluded, c)
            for c in ("extractor", "text_hash", "paper_rev", "created_at")
        },
    )
    conn.execute(
        stmt,
        [
            {"paper_id": p, "extractor": e, "text_hash": h, "paper_rev": r, "created_at": now}
            for p, e, h, r in rows
        ],
    )


def keywords_for(conn: Connection, paper_ids: Sequence[str]) -> dict[str, list[PaperKeyword]]:
    """Stored keywords of these papers, HF's first then local ones, each best first."""
    if not paper_ids:
        return {}
    q = (
        sa.select(
            paper_keywords.c.paper_id,
            paper_keywords.c.keyword,
            paper_keywords.c.source,
            paper_keywords.c.rank,
            paper_keywords.c.score,
        )
        .where(paper_keywords.c.paper_id.in_(list(dict.fromkeys(paper_ids))))
        .order_by(paper_keywords.c.paper_id, paper_keywords.c.source, paper_keywords.c.rank)
    )
    out: dict[str, list[PaperKeyword]] = {}
    for r in conn.execute(q):
        out.setdefault(r.paper_id, []).append(
            PaperKeyword(r.keyword, r.source, int(r.rank), float(r.score))
        )
    return out

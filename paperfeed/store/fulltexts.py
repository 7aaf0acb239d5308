"""Full texts parsed from arXiv's HTML and their bibliographies, with fetch status and cited-by."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import FullText, StoredFullText, StoredReference, TextSection
from paperfeed.store.papers import next_revs
from paperfeed.store.schema import fulltexts, paper_references, papers


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _section_dict(s: TextSection) -> dict[str, Any]:
    return {
        "anchor": s.anchor,
        "number": s.number,
        "title": s.title,
        "level": s.level,
        "html": s.html,
        "text": s.text,
    }


def _section(d: dict[str, Any]) -> TextSection:
    return TextSection(
        str(d.get("anchor", "")),
        str(d.get("number", "")),
        str(d.get("title", "")),
        int(d.get("level", 1)),
        str(d.get("html", "")),
        str(d.get("text", "")),
    )


def _touch_paper(conn: Connection, paper_id: str) -> None:
    # A new change number makes the keyword index pick up the body on its next run.
    rev = next_revs(conn, 1)
    conn.execute(sa.update(papers).where(papers.c.id == paper_id).values(rev=rev))


def due(
    conn: Connection, *, limit: int, now: datetime | None = None, max_attempts: int = 8
) -> list[str]:
    """Visible papers to fetch: never tried or newer than the version fetched (newest first), then
    retries whose time has come."""
    now = now or _now()
    j = papers.outerjoin(fulltexts, fulltexts.c.paper_id == papers.c.id)
    fresh = (
        sa.select(papers.c.id)
        .select_from(j)
        .where(
            papers.c.hidden == sa.false(),
            sa.or_(
                fulltexts.c.paper_id.is_(None),
                # A new arXiv version gets a new rendering (unless its fetch is failing now).
                sa.and_(
                    fulltexts.c.paper_version < papers.c.version, fulltexts.c.status != "failed"
                ),
            ),
        )
        .order_by(papers.c.published.desc().nulls_last(), papers.c.id.desc())
        .limit(limit)
    )
    ids = [r.id for r in conn.execute(fresh)]
    if len(ids) < limit:
        retry = (
            sa.select(papers.c.id)
            .select_from(papers.join(fulltexts, fulltexts.c.paper_id == papers.c.id))
            .where(
                papers.c.hidden == sa.false(),
                fulltexts.c.status != "ok",
                fulltexts.c.retry_at.is_not(None),
                fulltexts.c.retry_at <= now,
                fulltexts.c.attempts < max_attempts,
            )
            .order_by(fulltexts.c.retry_at)
            .limit(limit - len(ids))
        )
        ids += [r.id for r in conn.execute(retry)]
    return ids


def _attempts(conn: Connection, paper_id: str) -> int:
    q = sa.select(fulltexts.c.attempts).where(fulltexts.c.paper_id == paper_id)
    return int(conn.execute(q).scalar() or 0)


def save(
    conn: Connection, paper_id: str, source_url: str, ft: FullText, *, version: int = 1
) -> bool:
    """Store a parsed full text and its references (replacing older ones); True when it changed."""
    old = conn.execute(
        sa.select(fulltexts.c.content_hash, fulltexts.c.status).where(
            fulltexts.c.paper_id == paper_id
        )
    ).first()
    changed = old is None or old.status != "ok" or old.content_hash != ft.content_hash
    conn.execute(sa.delete(fulltexts).where(fulltexts.c.paper_id == paper_id))
    conn.execute(
        fulltexts.insert().values(
            paper_id=paper_id,
            status="ok",
            source_url=source_url,
            paper_version=version,
            fetched_at=_now(),
            attempts=0,
            retry_at=None,
            error=None,
            content_hash=ft.content_hash,
            title=ft.title,
            sections=[_section_dict(s) for s in ft.sections],
            num_references=len(ft.references),
        )
    )
    conn.execute(sa.delete(paper_references).where(paper_references.c.paper_id == paper_id))
    if ft.references:
        conn.execute(
            paper_references.insert(),
            [
                {
                    "paper_id": paper_id,
                    "position": r.position,
                    "text": r.text,
                    "arxiv_id": r.arxiv_id,
                    "doi": r.doi[:255] if r.doi else None,
                    "url": r.url,
                    "cited_id": None,
                }
                for r in ft.references
            ],
        )
        resolve(conn, citing=paper_id)
    if changed:
        _touch_paper(conn, paper_id)
    return changed


def record_failure(
    conn: Connection,
    paper_id: str,
    source_url: str,
    *,
    status: str,
    error: str,
    retry_at: datetime | None,
    version: int = 1,
) -> int:
    """Record a fetch that found no full text ('missing') or failed ('failed'); returns attempts."""
    attempts = _attempts(conn, paper_id) + 1
    had_text = conn.execute(
        sa.select(fulltexts.c.status).where(fulltexts.c.paper_id == paper_id)
    ).scalar()
    if had_text == "ok" and status == "failed":
        # A flaky refetch keeps the text we have; only its retry is noted.
        conn.execute(
            sa.update(fulltexts)
            .where(fulltexts.c.paper_id == paper_id)
            .values(error=error, retry_at=retry_at)
        )
        return attempts
    conn.execute(sa.delete(fulltexts).where(fulltexts.c.paper_id == paper_id))
    conn.execute(
        fulltexts.insert().values(
            paper_id=paper_id,
            status=status,
            source_url=source_url,
            paper_version=version,
            fetched_at=_now(),
            attempts=attempts,
            retry_at=retry_at,
            error=error,
            num_references=0,
        )
    )
    if had_text == "ok":
        conn.execute(sa.delete(paper_references).where(paper_references.c.paper_id == paper_id))
        _touch_paper(conn, paper_id)
    return attempts


def resolve(conn: Connection, *, citing: str | None = None) -> int:
    """Link unresolved references to local papers by arXiv id, then DOI; returns the links now held."""
    pending: sa.ColumnElement[bool] = paper_references.c.cited_id.is_(None)
    if citing is not None:
        pending = sa.and_(pending, paper_references.c.paper_id == citing)
    refs = paper_references.c
    ids = sa.select(papers.c.id)
    conn.execute(
        sa.update(paper_references)
        .where(pending, refs.arxiv_id.in_(ids))
        .values(cited_id=refs.arxiv_id)
    )
    # A DOI can be the paper id itself (bioRxiv, medRxiv) or a published version's DOI.
    conn.execute(
        sa.update(paper_references).where(pending, refs.doi.in_(ids)).values(cited_id=refs.doi)
    )
    by_doi = sa.select(sa.func.min(papers.c.id)).where(papers.c.doi == refs.doi).scalar_subquery()
    conn.execute(
        sa.update(paper_references)
        .where(pending, refs.doi.is_not(None), refs.doi.in_(sa.select(papers.c.doi)))
        .values(cited_id=by_doi)
    )
    q = (
        sa.select(sa.func.count())
        .select_from(paper_references)
        .where(paper_references.c.cited_id.is_not(None))
    )
    if citing is not None:
        q = q.where(paper_references.c.paper_id == citing)
    return int(conn.execute(q).scalar_one())


def get(conn: Connection, paper_id: str) -> StoredFullText | None:
    """The stored fetch outcome and full text of a paper, or None when never fetched."""
    r = conn.execute(sa.select(fulltexts).where(fulltexts.c.paper_id == paper_id)).first()
    if r is None:
        return None
    return StoredFullText(
        paper_id=r.paper_id,
        status=r.status,
        source_url=r.source_url,
        fetched_at=r.fetched_at,
        attempts=int(r.attempts),
        retry_at=r.retry_at,
        error=r.error,
        content_hash=r.content_hash,
        title=r.title,
        sections=[_section(d) for d in (r.sections or [])],
        num_references=int(r.num_references or 0),
    )


def references(conn: Connection, paper_id: str) -> list[StoredReference]:
    """A paper's bibliography in order, each with the local paper it names (if any)."""
    q = (
        sa.select(paper_references)
        .where(paper_references.c.paper_id == paper_id)
        .order_by(paper_references.c.position)
    )
    return [
        StoredReference(r.position, r.text, r.arxiv_id, r.doi, r.url, r.cited_id)
        for r in conn.execute(q)
    ]


def cited_by(conn: Connection, paper_id: str, *, limit: int = 100) -> list[str]:
    """Visible papers of this instance whose bibliography names this paper, newest first."""
    q = (
        sa.select(papers.c.id)
        .select_from(paper_references.join(papers, papers.c.id == paper_references.c.paper_id))
        .where(paper_references.c.cited_id == paper_id, papers.c.hidden == sa.false())
        .group_by(papers.c.id, papers.c.published)
        .order_by(papers.c.published.desc().nulls_last(), papers.c.id.desc())
        .limit(limit)
    )
    return [r.id for r in conn.execute(q)]


def status_counts(conn: Connection) -> dict[str, int]:
    """How many papers have each fetch status."""
    q = sa.select(fulltexts.c.status, sa.func.count()).group_by(fulltexts.c.status)
    return {str(s): int(n) for s, n in conn.execute(q)}


def sections_of(conn: Connection, paper_ids: Sequence[str]) -> dict[str, list[TextSection]]:
    """The stored sections of some papers (for search snippets), by paper id."""
    if not paper_ids:
        return {}
    q = sa.select(fulltexts.c.paper_id, fulltexts.c.sections).where(
        fulltexts.c.paper_id.in_(list(paper_ids)), fulltexts.c.status == "ok"
    )
    return {r.paper_id: [_section(d) for d in (r.sections or [])] for r in conn.execute(q)}

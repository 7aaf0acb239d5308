"""The authorship index: which author names (by slug) wrote which papers, and organizations' papers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import Organization
from paperfeed.normalize import author_slug
from paperfeed.store.schema import (
    author_claims,
    organizations,
    paper_authors,
    papers,
    upvotes_expr,
)

_CHUNK = 500  # ids per IN (...) list
MAX_GROUPED = 5_000  # papers of one name read for grouping: the newest ones beyond that are kept
MAX_COAUTHOR_POSITION = 100  # co-authors read per paper: collaborations list thousands


@dataclass(slots=True, frozen=True)
class Authored:
    """One visible paper under an author slug, with what grouping it into people needs."""

    paper_id: str
    position: int
    name: str
    published: datetime | None
    primary_category: str | None
    categories: tuple[str, ...]
    upvotes: int
    claimed_by: int | None  # the member with a confirmed claim on this position, if any


def replace_authors(conn: Connection, by_paper: Mapping[str, Sequence[str]]) -> None:
    """Make the index rows of these papers match their author lists."""
    ids = list(by_paper)
    for i in range(0, len(ids), _CHUNK):
        conn.execute(
            sa.delete(paper_authors).where(paper_authors.c.paper_id.in_(ids[i : i + _CHUNK]))
        )
    rows = [
        {"paper_id": pid, "position": n, "name": name[:1000], "slug": author_slug(name)}
        for pid, names in by_paper.items()
        for n, name in enumerate(names)
    ]
    if rows:
        conn.execute(paper_authors.insert(), rows)


def name_of(conn: Connection, slug: str) -> str | None:
    """One stored spelling of an author with this slug (by the slug index), None when none wrote here."""
    q = sa.select(paper_authors.c.name).where(paper_authors.c.slug == slug).limit(1)
    return conn.execute(q).scalar_one_or_none()


def authored(conn: Connection, slug: str, *, limit: int = MAX_GROUPED) -> list[Authored]:
    """The visible papers listing an author with this slug, newest first."""
    claimed = (
        sa.select(author_claims.c.user_id)
        .where(
            author_claims.c.paper_id == paper_authors.c.paper_id,
            author_claims.c.position == paper_authors.c.position,
            author_claims.c.status == "confirmed",
        )
        .limit(1)
        .scalar_subquery()
    )
    q = (
        sa.select(
            paper_authors.c.paper_id,
            paper_authors.c.position,
            paper_authors.c.name,
            papers.c.published,
            papers.c.primary_category,
            papers.c.categories,
            upvotes_expr,
            claimed.label("claimed_by"),
        )
        .join(papers, papers.c.id == paper_authors.c.paper_id)
        .where(paper_authors.c.slug == slug, papers.c.hidden == sa.false())
        .order_by(papers.c.published.desc(), papers.c.id.desc(), paper_authors.c.position)
        .limit(limit)
    )
    out: list[Authored] = []
    seen: set[str] = set()
    for r in conn.execute(q):
        if r.paper_id in seen:  # the same name twice on one paper: one authorship
            continue
        seen.add(r.paper_id)
        out.append(
            Authored(
                r.paper_id,
                r.position,
                r.name,
                r.published,
                r.primary_category,
                tuple(r.categories or ()),
                int(r.upvotes),
                r.claimed_by,
            )
        )
    return out


def coauthors(
    conn: Connection, paper_ids: Sequence[str], slug: str
) -> dict[str, list[tuple[str, str]]]:
    """The other authors (slug, name) of each paper, the first MAX_COAUTHOR_POSITION of each."""
    out: dict[str, list[tuple[str, str]]] = {pid: [] for pid in paper_ids}
    ids = list(paper_ids)
    for i in range(0, len(ids), _CHUNK):
        q = (
            sa.select(paper_authors.c.paper_id, paper_authors.c.slug, paper_authors.c.name)
            .where(
                paper_authors.c.paper_id.in_(ids[i : i + _CHUNK]),
                paper_authors.c.position < MAX_COAUTHOR_POSITION,
                paper_authors.c.slug != slug,
                paper_authors.c.slug != "",
            )
            .order_by(paper_authors.c.paper_id, paper_authors.c.position)
        )
        for r in conn.execute(q):
            out[r.paper_id].append((r.slug, r.name))
    return out


def organizations_named(conn: Connection, name: str) -> list[Organization]:
    """The organizations with this Hub name (case-insensitive)."""
    q = sa.select(organizations).where(sa.func.lower(organizations.c.name) == name.lower())
    return [Organization(r.id, r.name, r.fullname, r.avatar) for r in conn.execute(q)]


def _of_orgs(org_ids: Sequence[str]) -> list[sa.ColumnElement[bool]]:
    return [papers.c.organization_id.in_(list(org_ids)), papers.c.hidden == sa.false()]


def org_totals(conn: Connection, org_ids: Sequence[str]) -> tuple[int, int]:
    """How many visible papers these organizations have, and the upvotes they received."""
    q = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(upvotes_expr), 0)).where(
        *_of_orgs(org_ids)
    )
    n, up = conn.execute(q).one()
    return int(n), int(up)


def org_papers(conn: Connection, org_ids: Sequence[str], *, offset: int, limit: int) -> list[str]:
    """The ids of one page of the organizations' visible papers, newest first."""
    # Ids only: store.papers imports this module (upserts fill the index), so no import back.
    q = (
        sa.select(papers.c.id)
        .where(*_of_orgs(org_ids))
        .order_by(papers.c.published.desc(), papers.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [r[0] for r in conn.execute(q)]


def org_categories(
    conn: Connection, org_ids: Sequence[str], *, limit: int = 20
) -> list[tuple[str, int]]:
    """The primary categories of the organizations' papers, most frequent first."""
    n = sa.func.count().label("n")
    q = (
        sa.select(papers.c.primary_category, n)
        .where(*_of_orgs(org_ids), papers.c.primary_category.is_not(None))
        .group_by(papers.c.primary_category)
        .order_by(n.desc(), papers.c.primary_category)
        .limit(limit)
    )
    return [(r[0], int(r[1])) for r in conn.execute(q)]


def org_authors(
    conn: Connection, org_ids: Sequence[str], *, limit: int = 20
) -> list[tuple[str, str, int]]:
    """The organizations' most frequent authors: (slug, a name, papers)."""
    n = sa.func.count(sa.distinct(paper_authors.c.paper_id)).label("n")
    q = (
        sa.select(paper_authors.c.slug, sa.func.min(paper_authors.c.name), n)
        .join(papers, papers.c.id == paper_authors.c.paper_id)
        .where(*_of_orgs(org_ids), paper_authors.c.slug != "")
        .group_by(paper_authors.c.slug)
        .order_by(n.desc(), paper_authors.c.slug)
        .limit(limit)
    )
    return [(r[0], r[1], int(r[2])) for r in conn.execute(q)]

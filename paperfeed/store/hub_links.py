"""Hub repos citing a paper: replace one paper's listing of a kind, read them back, pick papers to refresh."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.schema import feed_entries, paper_repo_counts, paper_repos, papers


@dataclass(slots=True)
class RepoList:
    """Repos of one kind citing a paper: those kept (most liked first) and how many there are."""

    repos: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    complete: bool = True


@dataclass(slots=True)
class HubLinks:
    """Models, datasets and Spaces citing a paper, and when the Hub was last asked."""

    by_kind: dict[str, RepoList] = field(default_factory=dict)
    fetched_at: datetime | None = None

    def of(self, kind: str) -> RepoList:
        """The repos of one kind (empty when never fetched)."""
        return self.by_kind.get(kind) or RepoList()


def save_links(
    conn: Connection,
    paper_id: str,
    kind: str,
    repos: Sequence[dict[str, Any]],
    total: int,
    complete: bool,
    fetched_at: datetime,
) -> None:
    """Replace a paper's repos of one kind with a fresh listing (one transaction: never half of each)."""
    conn.execute(
        sa.delete(paper_repos).where(paper_repos.c.paper_id == paper_id, paper_repos.c.kind == kind)
    )
    if repos:
        conn.execute(
            sa.insert(paper_repos),
            [
                {"paper_id": paper_id, "kind": kind, "position": n, "repo_id": r["id"], "data": r}
                for n, r in enumerate(repos)
            ],
        )
    conn.execute(
        sa.delete(paper_repo_counts).where(
            paper_repo_counts.c.paper_id == paper_id, paper_repo_counts.c.kind == kind
        )
    )
    conn.execute(
        sa.insert(paper_repo_counts).values(
            paper_id=paper_id, kind=kind, total=total, complete=complete, fetched_at=fetched_at
        )
    )


def links_of(conn: Connection, paper_id: str) -> HubLinks:
    """Everything stored for one paper."""
    out = HubLinks()
    for row in conn.execute(
        sa.select(paper_repo_counts).where(paper_repo_counts.c.paper_id == paper_id)
    ):
        out.by_kind[row.kind] = RepoList([], row.total, row.complete)
        if out.fetched_at is None or row.fetched_at > out.fetched_at:
            out.fetched_at = row.fetched_at
    rows = conn.execute(
        sa.select(paper_repos.c.kind, paper_repos.c.data)
        .where(paper_repos.c.paper_id == paper_id)
        .order_by(paper_repos.c.kind, paper_repos.c.position)
    )
    for kind, data in rows:
        out.by_kind.setdefault(kind, RepoList()).repos.append(dict(data))
    return out


def papers_to_refresh(
    conn: Connection, *, featured_since: date, stale_before: datetime, limit: int
) -> list[str]:
    """Featured papers never asked about first (newest feature first), then the longest unrefreshed."""
    last = (
        sa.select(sa.func.max(paper_repo_counts.c.fetched_at))
        .where(paper_repo_counts.c.paper_id == feed_entries.c.paper_id)
        .scalar_subquery()
    )
    rows = conn.execute(
        sa.select(feed_entries.c.paper_id, sa.func.max(feed_entries.c.day).label("day"), last)
        .join(papers, papers.c.id == feed_entries.c.paper_id)
        .where(feed_entries.c.day >= featured_since, papers.c.hidden.is_(False))
        .group_by(feed_entries.c.paper_id)
    ).all()
    never = sorted(
        (r for r in rows if r[2] is None), key=lambda r: (r.day, r.paper_id), reverse=True
    )
    stale = sorted(
        (r for r in rows if r[2] is not None and r[2] < stale_before), key=lambda r: r[2]
    )
    return [r.paper_id for r in [*never, *stale]][:limit]

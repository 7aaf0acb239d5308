"""Authorship claims: a member says they are the author at one position of a paper."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import AuthorClaim
from paperfeed.store.schema import author_claims, comments, users

CONFIRMED = "confirmed"


def _select() -> sa.Select[Any]:
    return sa.select(author_claims, users.c.username, users.c.display_name).join(
        users, users.c.id == author_claims.c.user_id
    )


def _claim(r: Any) -> AuthorClaim:
    m = r._mapping
    return AuthorClaim(
        id=m["id"],
        paper_id=m["paper_id"],
        position=m["position"],
        user_id=m["user_id"],
        name=m["name"],
        slug=m["slug"],
        status=m["status"],
        created_at=m["created_at"],
        orcid=m["orcid"],
        evidence=m["evidence"],
        decided_at=m["decided_at"],
        decided_by=m["decided_by"],
        username=m["username"],
        display_name=m["display_name"],
    )


def add_claim(
    conn: Connection,
    *,
    paper_id: str,
    position: int,
    user_id: int,
    name: str,
    slug: str,
    orcid: str | None,
    at: datetime,
) -> int:
    """Record a pending claim and return its id."""
    res = conn.execute(
        author_claims.insert().values(
            paper_id=paper_id,
            position=position,
            user_id=user_id,
            name=name,
            slug=slug,
            status="pending",
            orcid=orcid,
            created_at=at,
        )
    )
    return int(res.inserted_primary_key[0])  # type: ignore[index]


def get_claim(conn: Connection, claim_id: int) -> AuthorClaim | None:
    """One claim by id, or None."""
    row = conn.execute(_select().where(author_claims.c.id == claim_id)).first()
    return _claim(row) if row else None


def find_claim(conn: Connection, paper_id: str, position: int, user_id: int) -> AuthorClaim | None:
    """A member's claim on one author position, or None."""
    q = _select().where(
        author_claims.c.paper_id == paper_id,
        author_claims.c.position == position,
        author_claims.c.user_id == user_id,
    )
    row = conn.execute(q).first()
    return _claim(row) if row else None


def claims_on(conn: Connection, paper_id: str) -> list[AuthorClaim]:
    """Every claim on a paper, by author position then age."""
    q = _select().where(author_claims.c.paper_id == paper_id)
    return [
        _claim(r) for r in conn.execute(q.order_by(author_claims.c.position, author_claims.c.id))
    ]


def claims_by(conn: Connection, user_id: int) -> list[AuthorClaim]:
    """A member's claims, newest first."""
    q = _select().where(author_claims.c.user_id == user_id).order_by(author_claims.c.id.desc())
    return [_claim(r) for r in conn.execute(q)]


def pending(conn: Connection, *, limit: int = 100) -> list[AuthorClaim]:
    """The oldest claims waiting for a curator."""
    q = (
        _select()
        .where(author_claims.c.status == "pending")
        .order_by(author_claims.c.created_at, author_claims.c.id)
        .limit(limit)
    )
    return [_claim(r) for r in conn.execute(q)]


def count_pending(conn: Connection) -> int:
    """How many claims wait for a curator."""
    q = sa.select(sa.func.count()).where(author_claims.c.status == "pending")
    return int(conn.execute(q).scalar_one())


def decide(
    conn: Connection,
    claim_id: int,
    status: str,
    *,
    at: datetime,
    evidence: str | None = None,
    decided_by: int | None = None,
) -> None:
    """Set a claim's status, with why and by whom."""
    conn.execute(
        sa.update(author_claims)
        .where(author_claims.c.id == claim_id)
        .values(status=status, evidence=evidence, decided_at=at, decided_by=decided_by)
    )


def note(conn: Connection, claim_id: int, evidence: str) -> None:
    """Record what an evidence check found on a claim that stays as it is."""
    conn.execute(
        sa.update(author_claims).where(author_claims.c.id == claim_id).values(evidence=evidence)
    )


def delete_claim(conn: Connection, claim_id: int) -> None:
    """Remove a claim (withdrawn by its member)."""
    conn.execute(sa.delete(author_claims).where(author_claims.c.id == claim_id))


def confirmed_members(conn: Connection, paper_id: str) -> list[int]:
    """User ids of the paper's confirmed authors."""
    q = (
        sa.select(author_claims.c.user_id)
        .where(author_claims.c.paper_id == paper_id, author_claims.c.status == CONFIRMED)
        .distinct()
        .order_by(author_claims.c.user_id)
    )
    return [int(r[0]) for r in conn.execute(q)]


def confirmed_on(conn: Connection, paper_ids: Sequence[str]) -> dict[str, list[AuthorClaim]]:
    """The confirmed claims of many papers, by paper id."""
    out: dict[str, list[AuthorClaim]] = {}
    ids = list(dict.fromkeys(paper_ids))
    for i in range(0, len(ids), 500):
        q = _select().where(
            author_claims.c.paper_id.in_(ids[i : i + 500]), author_claims.c.status == CONFIRMED
        )
        for r in conn.execute(q.order_by(author_claims.c.position)):
            c = _claim(r)
            out.setdefault(c.paper_id, []).append(c)
    return out


def _author_comments() -> Any:
    # Confirmed claims joined to their member's live comments on the claimed paper.
    return (
        sa.select(author_claims.c.paper_id)
        .select_from(
            author_claims.join(
                comments,
                sa.and_(
                    comments.c.paper_id == author_claims.c.paper_id,
                    comments.c.user_id == author_claims.c.user_id,
                ),
            )
        )
        .where(author_claims.c.status == CONFIRMED, comments.c.deleted_at.is_(None))
    )


def participating(paper_id: Any) -> sa.ColumnElement[bool]:
    """True when a confirmed author of the paper (a column or value) has a live comment on it."""
    return sa.exists(_author_comments().where(author_claims.c.paper_id == paper_id))


def participating_among(conn: Connection, paper_ids: Sequence[str]) -> set[str]:
    """The papers among these on which a confirmed author has a live comment."""
    if not paper_ids:
        return set()
    q = _author_comments().where(author_claims.c.paper_id.in_(list(paper_ids))).distinct()
    return {r[0] for r in conn.execute(q)}


def is_participating(conn: Connection, paper_id: str) -> bool:
    """True when a confirmed author of the paper commented on it."""
    return bool(conn.execute(sa.select(participating(paper_id))).scalar())


def delete_for_user(conn: Connection, user_id: int) -> None:
    """Remove a member's claims and their name from the claims they decided."""
    conn.execute(sa.delete(author_claims).where(author_claims.c.user_id == user_id))
    conn.execute(
        sa.update(author_claims)
        .where(author_claims.c.decided_by == user_id)
        .values(decided_by=None)
    )

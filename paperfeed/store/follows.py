"""Follows: what each member follows, the papers matched for them once each, the feed key."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import Paper
from paperfeed.store.db import insert_for
from paperfeed.store.papers import paper_columns, paper_from_row
from paperfeed.store.schema import (
    counters,
    follow_feed_keys,
    follow_matches,
    follows,
    library_items,
    organizations,
    paper_vectors,
    papers,
)

KINDS = ("author", "org", "category", "search", "collection", "paper_version")
WATERMARK = "follows_rev"  # counters row: the papers.rev matching has covered
VECTOR_WATERMARK = "follows_vector_rev"  # counters row: the paper_vectors.rev matching has covered
_CHUNK = 500
_MATCH_COLUMNS = (
    follow_matches.c.id,
    follow_matches.c.follow_id,
    follow_matches.c.user_id,
    follow_matches.c.paper_id,
    follow_matches.c.version,
    follow_matches.c.matched_at,
)


@dataclass(slots=True)
class Follow:
    """One thing a member follows: its kind, lookup key, label and kind-specific data."""

    id: int
    user_id: int
    kind: str
    target: str
    label: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(slots=True)
class Match:
    """A paper matched for one follow (delivered once per channel)."""

    id: int
    follow_id: int
    user_id: int
    paper_id: str
    version: int
    matched_at: datetime
    kind: str = ""
    label: str = ""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _follow(r: Any) -> Follow:
    return Follow(r.id, r.user_id, r.kind, r.target, r.label, dict(r.data or {}), r.created_at)


def add(
    conn: Connection,
    user_id: int,
    kind: str,
    target: str,
    label: str,
    data: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> tuple[Follow, bool]:
    """Follow something; returns the follow and False when the member already followed it."""
    stmt = insert_for(conn, follows).values(
        user_id=user_id,
        kind=kind,
        target=target,
        label=label,
        data=data or {},
        created_at=now or _now(),
    )
    res = conn.execute(stmt.on_conflict_do_nothing(index_elements=["user_id", "kind", "target"]))
    start_watermarks(conn)
    found = get_target(conn, user_id, kind, target)
    assert found is not None
    return found, bool(res.rowcount)


def get_target(conn: Connection, user_id: int, kind: str, target: str) -> Follow | None:
    """The member's follow of this kind and key, if any."""
    row = conn.execute(
        sa.select(follows).where(
            follows.c.user_id == user_id, follows.c.kind == kind, follows.c.target == target
        )
    ).first()
    return _follow(row) if row is not None else None


def get(conn: Connection, follow_id: int) -> Follow | None:
    """A follow by id."""
    row = conn.execute(sa.select(follows).where(follows.c.id == follow_id)).first()
    return _follow(row) if row is not None else None


def remove(conn: Connection, user_id: int, follow_id: int) -> bool:
    """Unfollow (the member's own follow only); its matches go with it."""
    owned = sa.and_(follows.c.id == follow_id, follows.c.user_id == user_id)
    if conn.execute(sa.select(follows.c.id).where(owned)).first() is None:
        return False
    conn.execute(sa.delete(follow_matches).where(follow_matches.c.follow_id == follow_id))
    conn.execute(sa.delete(follows).where(owned))
    return True


def count_for(conn: Connection, user_id: int) -> int:
    """How many follows a member has."""
    q = sa.select(sa.func.count()).select_from(follows).where(follows.c.user_id == user_id)
    return int(conn.execute(q).scalar_one())


def list_for(conn: Connection, user_id: int, kinds: Sequence[str] = ()) -> list[Follow]:
    """A member's follows, by kind then label."""
    q = sa.select(follows).where(follows.c.user_id == user_id)
    if kinds:
        q = q.where(follows.c.kind.in_(list(kinds)))
    q = q.order_by(follows.c.kind, follows.c.label, follows.c.id)
    return [_follow(r) for r in conn.execute(q)]


def by_targets(conn: Connection, kind: str, targets: Iterable[str]) -> list[Follow]:
    """Every member's follows of this kind whose key is one of `targets` (an indexed lookup)."""
    keys = sorted(set(targets))
    out: list[Follow] = []
    for i in range(0, len(keys), _CHUNK):
        q = sa.select(follows).where(
            follows.c.kind == kind, follows.c.target.in_(keys[i : i + _CHUNK])
        )
        out.extend(_follow(r) for r in conn.execute(q))
    return out


def of_kinds(conn: Connection, kinds: Sequence[str]) -> list[Follow]:
    """Every follow of these kinds (saved searches and collections are matched as a group)."""
    q = sa.select(follows).where(follows.c.kind.in_(list(kinds))).order_by(follows.c.id)
    return [_follow(r) for r in conn.execute(q)]


def oldest_created(conn: Connection) -> datetime | None:
    """When the oldest follow was made (papers stored before it can match nothing)."""
    return conn.execute(sa.select(sa.func.min(follows.c.created_at))).scalar_one()


# --- matching input: papers changed since the watermark ---


def watermark(conn: Connection, name: str = WATERMARK) -> int | None:
    """The change number matching has covered, or None before the first run."""
    row = conn.execute(sa.select(counters.c.value).where(counters.c.name == name)).first()
    return int(row[0]) if row is not None else None


def start_watermarks(conn: Connection) -> None:
    """Begin matching at the papers and vectors stored from now on (when first needed)."""
    for name, current in ((WATERMARK, _max_paper_rev), (VECTOR_WATERMARK, max_vector_rev)):
        if watermark(conn, name) is None:
            stmt = insert_for(conn, counters).values(name=name, value=current(conn))
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))


def _max_paper_rev(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(papers.c.rev), 0))).scalar_one())


def set_watermark(conn: Connection, value: int, name: str = WATERMARK) -> None:
    """Record how far matching has gone (in the transaction that records its matches)."""
    stmt = insert_for(conn, counters).values(name=name, value=value)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["name"], set_={"value": stmt.excluded.value})
    )


def changed_papers(
    conn: Connection, after_rev: int, *, limit: int
) -> list[tuple[int, Paper, datetime, bool]]:
    """(rev, paper, first stored, hidden) of papers changed after `after_rev`, in change order."""
    q = (
        sa.select(*paper_columns(), papers.c.created_at.label("stored_at"))
        .where(papers.c.rev > after_rev)
        .order_by(papers.c.rev)
        .limit(limit)
    )
    return [(int(r.rev), paper_from_row(r), r.stored_at, bool(r.hidden)) for r in conn.execute(q)]


def max_vector_rev(conn: Connection) -> int:
    """The highest paper_vectors change number, 0 when none."""
    return int(
        conn.execute(sa.select(sa.func.coalesce(sa.func.max(paper_vectors.c.rev), 0))).scalar_one()
    )


def changed_vectors(
    conn: Connection, after_rev: int, *, limit: int
) -> list[tuple[int, str, bytes, datetime]]:
    """(rev, paper id, vector bytes, paper first stored) of vectors changed after `after_rev`."""
    q = (
        sa.select(
            paper_vectors.c.rev,
            paper_vectors.c.paper_id,
            paper_vectors.c.vector,
            papers.c.created_at,
        )
        .join(papers, papers.c.id == paper_vectors.c.paper_id)
        .where(paper_vectors.c.rev > after_rev, papers.c.hidden.is_(False))
        .order_by(paper_vectors.c.rev)
        .limit(limit)
    )
    return [(int(r[0]), r[1], r[2], r[3]) for r in conn.execute(q)]


def collection_vectors(conn: Connection, collection_ids: Sequence[int]) -> dict[int, list[bytes]]:
    """The stored vectors of each collection's papers ("papers like these")."""
    out: dict[int, list[bytes]] = {c: [] for c in collection_ids}
    if not collection_ids:
        return out
    q = (
        sa.select(library_items.c.collection_id, paper_vectors.c.vector)
        .join(paper_vectors, paper_vectors.c.paper_id == library_items.c.paper_id)
        .where(library_items.c.collection_id.in_(list(collection_ids)))
    )
    for cid, vec in conn.execute(q):
        out[cid].append(vec)
    return out


def collection_papers(conn: Connection, collection_ids: Sequence[int]) -> dict[int, set[str]]:
    """The papers already in each collection (they are not news to its follower)."""
    out: dict[int, set[str]] = {c: set() for c in collection_ids}
    if not collection_ids:
        return out
    q = sa.select(library_items.c.collection_id, library_items.c.paper_id).where(
        library_items.c.collection_id.in_(list(collection_ids))
    )
    for cid, pid in conn.execute(q):
        out[cid].add(pid)
    return out


# --- matches ---


def record_matches(
    conn: Connection,
    rows: Iterable[tuple[int, int, str, int]],
    *,
    now: datetime | None = None,
) -> list[Match]:
    """Store (follow, member, paper, version) matches; returns only those not stored before."""
    now = now or _now()
    values = [
        {"follow_id": f, "user_id": u, "paper_id": p, "version": v, "matched_at": now}
        for f, u, p, v in dict.fromkeys(rows)
    ]
    out: list[Match] = []
    for i in range(0, len(values), _CHUNK):
        stmt = (
            insert_for(conn, follow_matches)
            .values(values[i : i + _CHUNK])
            .on_conflict_do_nothing(index_elements=["follow_id", "paper_id", "version"])
            .returning(*_MATCH_COLUMNS)
        )
        out.extend(Match(*r) for r in conn.execute(stmt))
    return out


def _match_query() -> sa.Select[Any]:
    return sa.select(*_MATCH_COLUMNS, follows.c.kind, follows.c.label).join(
        follows, follows.c.id == follow_matches.c.follow_id
    )


def matches_for(
    conn: Connection,
    user_id: int,
    *,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Match]:
    """A member's matches, newest first (optionally only those matched after `since`)."""
    q = _match_query().where(follow_matches.c.user_id == user_id)
    if since is not None:
        q = q.where(follow_matches.c.matched_at > since)
    q = q.order_by(follow_matches.c.id.desc()).limit(limit)
    return [Match(*r) for r in conn.execute(q)]


def matches_by_id(conn: Connection, match_ids: Sequence[int]) -> list[Match]:
    """Matches by id, in id order."""
    if not match_ids:
        return []
    ids = sorted(match_ids)
    out: list[Match] = []
    for i in range(0, len(ids), _CHUNK):  # bounded: SQLite caps bound parameters per statement
        q = _match_query().where(follow_matches.c.id.in_(ids[i : i + _CHUNK]))
        out.extend(Match(*r) for r in conn.execute(q.order_by(follow_matches.c.id)))
    return out


# --- the private feed's key ---


def feed_nonce(conn: Connection, user_id: int, *, rotate: bool = False) -> str:
    """The member's private-feed key material, created on first use; `rotate` revokes the old."""
    nonce = secrets.token_urlsafe(24)
    now = _now()
    if rotate:
        stmt = insert_for(conn, follow_feed_keys).values(
            user_id=user_id, nonce=nonce, created_at=now
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id"], set_={"nonce": nonce, "created_at": now}
            )
        )
        return nonce
    stmt = insert_for(conn, follow_feed_keys).values(user_id=user_id, nonce=nonce, created_at=now)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["user_id"]))
    return str(
        conn.execute(
            sa.select(follow_feed_keys.c.nonce).where(follow_feed_keys.c.user_id == user_id)
        ).scalar_one()
    )


def existing_feed_nonce(conn: Connection, user_id: int) -> str | None:
    """The member's private-feed key material, None when no feed link was ever made."""
    return conn.execute(
        sa.select(follow_feed_keys.c.nonce).where(follow_feed_keys.c.user_id == user_id)
    ).scalar_one_or_none()


# --- does the thing to follow exist here? ---


def organization_name(conn: Connection, name: str) -> str | None:
    """The stored spelling of an organization's name (matched case-insensitively), if any."""
    q = sa.select(organizations.c.name).where(sa.func.lower(organizations.c.name) == name.lower())
    return conn.execute(q.limit(1)).scalar_one_or_none()


def category_used(conn: Connection, category: str) -> bool:
    """True when some paper here lists this category (or, for an archive, one inside it)."""
    pattern = f'%"{_like(category)}%'
    q = sa.select(papers.c.id).where(
        sa.cast(papers.c.categories, sa.Text).ilike(pattern, escape="\\")
    )
    return conn.execute(q.limit(1)).first() is not None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

"""In-site notifications: one row per member and event key, so each event shows once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import insert_for
from paperfeed.store.schema import comments, notifications, users

_CHUNK = 500


@dataclass(slots=True)
class Notification:
    """One thing to tell a member: a match, a reply, a mention, their claimed paper discussed."""

    id: int
    user_id: int
    key: str
    kind: str
    paper_id: str | None
    text: str
    created_at: datetime
    read_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def add_many(
    conn: Connection,
    rows: Iterable[tuple[int, str, str, str | None, str]],
    *,
    now: datetime | None = None,
) -> int:
    """Add (member, key, kind, paper, text) notifications; a key already there is skipped."""
    now = now or _now()
    seen: dict[tuple[int, str], dict[str, Any]] = {}
    for user_id, key, kind, paper_id, text in rows:
        seen.setdefault(
            (user_id, key),
            {
                "user_id": user_id,
                "key": key[:120],
                "kind": kind,
                "paper_id": paper_id,
                "text": text,
                "created_at": now,
            },
        )
    values = list(seen.values())
    added = 0
    for i in range(0, len(values), _CHUNK):
        stmt = insert_for(conn, notifications).on_conflict_do_nothing(
            index_elements=["user_id", "key"]
        )
        added += conn.execute(stmt, values[i : i + _CHUNK]).rowcount or 0
    return added


def _row(r: Any) -> Notification:
    return Notification(r.id, r.user_id, r.key, r.kind, r.paper_id, r.text, r.created_at, r.read_at)


def list_for(
    conn: Connection, user_id: int, *, before_id: int | None = None, limit: int = 50
) -> list[Notification]:
    """A member's notifications, newest first, paged by id."""
    q = sa.select(notifications).where(notifications.c.user_id == user_id)
    if before_id is not None:
        q = q.where(notifications.c.id < before_id)
    q = q.order_by(notifications.c.id.desc()).limit(limit)
    return [_row(r) for r in conn.execute(q)]


def unread_count(conn: Connection, user_id: int) -> int:
    """How many of a member's notifications are unread."""
    q = (
        sa.select(sa.func.count())
        .select_from(notifications)
        .where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
    )
    return int(conn.execute(q).scalar_one())


def mark_read(
    conn: Connection, user_id: int, ids: Sequence[int] = (), *, now: datetime | None = None
) -> int:
    """Mark some (or, with no ids, all) of a member's notifications read; returns how many."""
    q = sa.update(notifications).where(
        notifications.c.user_id == user_id, notifications.c.read_at.is_(None)
    )
    if ids:
        q = q.where(notifications.c.id.in_(list(ids)))
    return int(conn.execute(q.values(read_at=now or _now())).rowcount or 0)


def earlier_commenters(conn: Connection, paper_id: str, before_id: int) -> list[int]:
    """Members with a live comment on the paper older than comment `before_id`."""
    q = (
        sa.select(comments.c.user_id)
        .where(
            comments.c.paper_id == paper_id,
            comments.c.id < before_id,
            comments.c.deleted_at.is_(None),
        )
        .distinct()
    )
    return [int(r[0]) for r in conn.execute(q)]


def users_by_username(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """Member ids by lower-cased username, for the names that exist."""
    if not names:
        return {}
    lowered = sorted({n.lower() for n in names})
    q = sa.select(users.c.username, users.c.id).where(sa.func.lower(users.c.username).in_(lowered))
    return {str(u).lower(): int(i) for u, i in conn.execute(q)}

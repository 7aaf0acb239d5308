"""Email digest subscriptions and the papers each subscriber has already been sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import insert_for
from paperfeed.store.schema import sent_items, subscriptions

STATUSES = ("pending", "active", "unsubscribed", "bounced")
FREQUENCIES = ("daily", "weekly")
CONFIRM_TTL = timedelta(days=7)  # a confirmation link older than this no longer works


@dataclass(slots=True)
class Subscription:
    """One address that receives (or asked to receive) digests, with its choices."""

    id: int
    email: str
    status: str
    frequency: str
    sections: list[str]
    searches: list[dict[str, Any]]
    timezone: str
    hour: int
    unsubscribe_token: str
    user_id: int | None = None
    bounce_count: int = 0
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirm_sent_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """True when digests go to this address."""
        return self.status == "active"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def email_key(email: str) -> str:
    """The lookup key of an address: trimmed and lower-cased."""
    return email.strip().lower()


def _from_row(r: Any) -> Subscription:
    return Subscription(
        id=r.id,
        email=r.email,
        status=r.status,
        frequency=r.frequency,
        sections=list(r.sections or []),
        searches=list(r.searches or []),
        timezone=r.timezone,
        hour=r.hour,
        unsubscribe_token=r.unsubscribe_token,
        user_id=r.user_id,
        bounce_count=r.bounce_count,
        created_at=r.created_at,
        confirmed_at=r.confirmed_at,
        confirm_sent_at=r.confirm_sent_at,
    )


def _one(conn: Connection, where: Any) -> Subscription | None:
    row = conn.execute(sa.select(subscriptions).where(where)).first()
    return _from_row(row) if row is not None else None


def get(conn: Connection, subscription_id: int) -> Subscription | None:
    """A subscription by id."""
    return _one(conn, subscriptions.c.id == subscription_id)


def get_by_email(conn: Connection, email: str) -> Subscription | None:
    """A subscription by address (case-insensitive)."""
    return _one(conn, subscriptions.c.email_key == email_key(email))


def get_by_unsubscribe_token(conn: Connection, token: str) -> Subscription | None:
    """The subscription whose emails carry this unsubscribe token."""
    return _one(conn, subscriptions.c.unsubscribe_token == token)


def for_user(conn: Connection, user_id: int) -> Subscription | None:
    """The subscription a signed-in member manages, if any."""
    return _one(conn, subscriptions.c.user_id == user_id)


def request(
    conn: Connection,
    email: str,
    *,
    confirm_token_hash: str,
    unsubscribe_token: str,
    frequency: str,
    sections: Sequence[str],
    searches: Sequence[dict[str, Any]] = (),
    timezone: str,
    hour: int,
    user_id: int | None = None,
    now: datetime | None = None,
) -> tuple[Subscription, bool]:
    """Record a subscribe request; return the row and whether a confirmation email should go out.

    A new, pending, unsubscribed or bounced address becomes pending with a fresh confirm token
    (re-subscribing always needs a new opt-in); an active one is left alone.
    """
    now = now or _now()
    existing = get_by_email(conn, email)
    if existing is not None and existing.status == "active":
        return existing, False
    if existing is None:
        values = {
            "email": email.strip(),
            "email_key": email_key(email),
            "user_id": user_id,
            "status": "pending",
            "frequency": frequency,
            "sections": list(sections),
            "searches": list(searches),
            "timezone": timezone,
            "hour": hour,
            "confirm_token_hash": confirm_token_hash,
            "confirm_sent_at": now,
            "unsubscribe_token": unsubscribe_token,
            "bounce_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        stmt = insert_for(conn, subscriptions).values(values)
        stmt = stmt.on_conflict_do_nothing(index_elements=["email_key"])  # type: ignore[attr-defined]
        conn.execute(stmt)
    else:
        changes: dict[str, Any] = {
            "status": "pending",
            "confirm_token_hash": confirm_token_hash,
            "confirm_sent_at": now,
            "updated_at": now,
        }
        if existing.status != "pending":
            changes.update(bounce_count=0, unsubscribed_at=None)
        conn.execute(
            subscriptions.update().where(subscriptions.c.id == existing.id).values(**changes)
        )
    sub = get_by_email(conn, email)
    assert sub is not None
    return sub, sub.status == "pending"


def confirm(
    conn: Connection, confirm_token_hash: str, *, now: datetime | None = None
) -> Subscription | None:
    """Activate the pending subscription with this confirm token, unless the link expired."""
    now = now or _now()
    sub = _one(
        conn,
        sa.and_(
            subscriptions.c.confirm_token_hash == confirm_token_hash,
            subscriptions.c.status == "pending",
        ),
    )
    if sub is None or sub.confirm_sent_at is None or sub.confirm_sent_at < now - CONFIRM_TTL:
        return None
    conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == sub.id)
        .values(
            status="active",
            confirmed_at=now,
            confirm_token_hash=None,
            bounce_count=0,
            updated_at=now,
        )
    )
    return get(conn, sub.id)


def pending_by_confirm_hash(conn: Connection, confirm_token_hash: str) -> Subscription | None:
    """The pending subscription a confirm link points at (to show the confirm page)."""
    return _one(
        conn,
        sa.and_(
            subscriptions.c.confirm_token_hash == confirm_token_hash,
            subscriptions.c.status == "pending",
        ),
    )


def unsubscribe(
    conn: Connection, token: str, *, now: datetime | None = None
) -> Subscription | None:
    """Stop digests for the subscription with this unsubscribe token; idempotent."""
    now = now or _now()
    sub = get_by_unsubscribe_token(conn, token)
    if sub is None:
        return None
    if sub.status != "unsubscribed":
        conn.execute(
            subscriptions.update()
            .where(subscriptions.c.id == sub.id)
            .values(
                status="unsubscribed",
                unsubscribed_at=now,
                confirm_token_hash=None,
                updated_at=now,
            )
        )
    return get(conn, sub.id)


def subscribe_member(
    conn: Connection,
    user_id: int,
    email: str,
    *,
    unsubscribe_token: str,
    frequency: str,
    sections: Sequence[str],
    searches: Sequence[dict[str, Any]] = (),
    timezone: str,
    hour: int,
    now: datetime | None = None,
) -> Subscription:
    """Create or reactivate the subscription of a member whose address is already verified."""
    now = now or _now()
    existing = for_user(conn, user_id) or get_by_email(conn, email)
    values: dict[str, Any] = {
        "email": email.strip(),
        "email_key": email_key(email),
        "user_id": user_id,
        "status": "active",
        "frequency": frequency,
        "sections": list(sections),
        "searches": list(searches),
        "timezone": timezone,
        "hour": hour,
        "confirm_token_hash": None,
        "updated_at": now,
    }
    if existing is None:
        values.update(
            unsubscribe_token=unsubscribe_token,
            bounce_count=0,
            created_at=now,
            confirmed_at=now,
        )
        conn.execute(subscriptions.insert().values(values))
    else:
        if existing.status != "active":
            values.update(confirmed_at=now, bounce_count=0, unsubscribed_at=None)
        conn.execute(subscriptions.update().where(subscriptions.c.id == existing.id).values(values))
    sub = for_user(conn, user_id)
    assert sub is not None
    return sub


def update_preferences(
    conn: Connection,
    subscription_id: int,
    *,
    frequency: str,
    sections: Sequence[str],
    searches: Sequence[dict[str, Any]],
    timezone: str,
    hour: int,
    now: datetime | None = None,
) -> Subscription | None:
    """Change what and when a subscription receives."""
    conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription_id)
        .values(
            frequency=frequency,
            sections=list(sections),
            searches=list(searches),
            timezone=timezone,
            hour=hour,
            updated_at=now or _now(),
        )
    )
    return get(conn, subscription_id)


def record_bounce(
    conn: Connection, subscription_id: int, *, limit: int, now: datetime | None = None
) -> Subscription | None:
    """Count a permanent delivery failure; at `limit` failures the subscription is bounced."""
    now = now or _now()
    conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription_id)
        .values(
            bounce_count=subscriptions.c.bounce_count + 1,
            last_bounce_at=now,
            updated_at=now,
        )
    )
    conn.execute(
        subscriptions.update()
        .where(
            subscriptions.c.id == subscription_id,
            subscriptions.c.bounce_count >= limit,
            subscriptions.c.status == "active",
        )
        .values(status="bounced")
    )
    return get(conn, subscription_id)


def reset_bounces(conn: Connection, subscription_id: int) -> None:
    """Forget earlier bounces after a successful delivery."""
    conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription_id, subscriptions.c.bounce_count > 0)
        .values(bounce_count=0)
    )


def active_batch(conn: Connection, *, after_id: int = 0, limit: int = 500) -> list[Subscription]:
    """Active subscriptions with id above `after_id`, in id order (for paging through all)."""
    q = (
        sa.select(subscriptions)
        .where(subscriptions.c.status == "active", subscriptions.c.id > after_id)
        .order_by(subscriptions.c.id)
        .limit(limit)
    )
    return [_from_row(r) for r in conn.execute(q)]


def status_counts(conn: Connection) -> dict[str, int]:
    """How many subscriptions are in each status."""
    q = sa.select(subscriptions.c.status, sa.func.count()).group_by(subscriptions.c.status)
    return {r[0]: int(r[1]) for r in conn.execute(q)}


def sent_paper_ids(conn: Connection, subscription_ids: Sequence[int]) -> dict[int, set[str]]:
    """The papers already sent (or reserved for a composed digest) to each subscription."""
    out: dict[int, set[str]] = {i: set() for i in subscription_ids}
    for start in range(0, len(subscription_ids), 500):
        chunk = list(subscription_ids[start : start + 500])
        q = sa.select(sent_items.c.subscription_id, sent_items.c.paper_id).where(
            sent_items.c.subscription_id.in_(chunk)
        )
        for sid, pid in conn.execute(q):
            out[sid].add(pid)
    return out


def add_sent_items(
    conn: Connection, rows: Iterable[tuple[int, str, int | None]], *, now: datetime | None = None
) -> None:
    """Remember (subscription, paper, outbox row) so the paper is never sent to them again."""
    now = now or _now()
    values = [
        {"subscription_id": s, "paper_id": p, "outbox_id": o, "created_at": now} for s, p, o in rows
    ]
    if not values:
        return
    stmt = insert_for(conn, sent_items).on_conflict_do_nothing(
        index_elements=["subscription_id", "paper_id"]
    )
    conn.execute(stmt, values)

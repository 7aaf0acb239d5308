"""The digest outbox: one row per (subscription, period), claimed under a lock and sent once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import insert_for
from paperfeed.store.schema import outbox, subscriptions

STATUSES = ("pending", "sending", "sent", "failed", "bounced", "skipped", "cancelled")


@dataclass(slots=True)
class OutboxRow:
    """A composed digest waiting to be, being, or already sent."""

    id: int
    subscription_id: int
    period: str
    token: str
    message_id: str
    to_addr: str
    subject: str
    content: dict[str, Any]
    items: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    claimed_at: datetime | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    unsubscribe_token: str = ""  # of the subscription, filled in by claim/get
    bounce_count: int = 0  # of the subscription


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _from_row(r: Any) -> OutboxRow:
    m = r._mapping
    return OutboxRow(
        id=m["id"],
        subscription_id=m["subscription_id"],
        period=m["period"],
        token=m["token"],
        message_id=m["message_id"],
        to_addr=m["to_addr"],
        subject=m["subject"],
        content=dict(m["content"] or {}),
        items=m["items"],
        status=m["status"],
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        last_error=m["last_error"],
        claimed_at=m["claimed_at"],
        created_at=m["created_at"],
        sent_at=m["sent_at"],
        unsubscribe_token=m.get("unsubscribe_token") or "",
        bounce_count=m.get("bounce_count") or 0,
    )


def _select() -> sa.Select[Any]:
    return sa.select(outbox, subscriptions.c.unsubscribe_token, subscriptions.c.bounce_count).join(
        subscriptions, subscriptions.c.id == outbox.c.subscription_id
    )


def existing_periods(conn: Connection, keys: Sequence[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these (subscription, period) keys already have an outbox row."""
    found: set[tuple[int, str]] = set()
    by_period: dict[str, list[int]] = {}
    for sid, period in keys:
        by_period.setdefault(period, []).append(sid)
    for period, sids in by_period.items():
        for start in range(0, len(sids), 500):
            q = sa.select(outbox.c.subscription_id).where(
                outbox.c.period == period, outbox.c.subscription_id.in_(sids[start : start + 500])
            )
            found.update((sid, period) for (sid,) in conn.execute(q))
    return found


def insert_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[tuple[int, str], int]:
    """Insert composed rows, skipping keys that exist; return the new rows' ids by key.

    Only the inserting transaction gets an id back, so two runs scheduled at once cannot both
    own the same digest.
    """
    out: dict[tuple[int, str], int] = {}
    if not rows:
        return out
    now = _now()
    values = [
        {
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
            "last_error": None,
            "claimed_at": None,
            "sent_at": None,
            **r,
        }
        for r in rows
    ]
    # One statement run for many parameter sets (SQLAlchemy's "insertmanyvalues"): compiled
    # once, unlike a multi-row VALUES clause whose compilation took most of compose's time.
    stmt = (
        insert_for(conn, outbox)
        .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
        .returning(outbox.c.id, outbox.c.subscription_id, outbox.c.period)
    )
    for oid, sid, period in conn.execute(stmt, values):
        out[(sid, period)] = oid
    return out


def get(conn: Connection, outbox_id: int) -> OutboxRow | None:
    """An outbox row by id."""
    row = conn.execute(_select().where(outbox.c.id == outbox_id)).first()
    return _from_row(row) if row is not None else None


def get_by_token(conn: Connection, token: str) -> OutboxRow | None:
    """The digest a "view in browser" link points at."""
    row = conn.execute(_select().where(outbox.c.token == token)).first()
    return _from_row(row) if row is not None else None


def for_subscription(conn: Connection, subscription_id: int) -> list[OutboxRow]:
    """All outbox rows of one subscription, oldest first."""
    q = _select().where(outbox.c.subscription_id == subscription_id).order_by(outbox.c.id)
    return [_from_row(r) for r in conn.execute(q)]


def requeue_stale(conn: Connection, stale_before: datetime) -> int:
    """Put rows stuck in 'sending' since before `stale_before` (their worker died) back in line."""
    result = conn.execute(
        outbox.update()
        .where(outbox.c.status == "sending", outbox.c.claimed_at < stale_before)
        .values(status="pending", next_attempt_at=outbox.c.claimed_at)  # it was due then
    )
    return int(result.rowcount or 0)


def claim_next(
    conn: Connection,
    *,
    now: datetime | None = None,
    stale_before: datetime | None = None,
    period: str | None = None,
) -> OutboxRow | None:
    """Lock the next due row of an active subscription and mark it sending; None when done.

    Due means pending with next_attempt_at passed (with `stale_before`, rows stuck in 'sending'
    since before it are first put back). One UPDATE … RETURNING picks and marks the row: the
    sub-select skips rows other PostgreSQL workers hold (FOR UPDATE SKIP LOCKED); SQLite
    serialises writers with BEGIN IMMEDIATE.
    """
    now = now or _now()
    if stale_before is not None:
        requeue_stale(conn, stale_before)
    while True:
        # The outbox index alone picks the row: with a join PostgreSQL chose a nested loop over
        # all subscriptions right after a big compose (18 ms a claim).
        pick = (
            sa.select(outbox.c.id)
            .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(1)
        )
        if period is not None:
            pick = pick.where(outbox.c.period == period)
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        stmt = (
            outbox.update()
            .where(outbox.c.id == pick.scalar_subquery())
            .values(status="sending", claimed_at=now, attempts=outbox.c.attempts + 1)
            .returning(*outbox.c)
        )
        found = conn.execute(stmt).first()
        if found is None:
            return None
        sub = conn.execute(
            sa.select(
                subscriptions.c.status,
                subscriptions.c.unsubscribe_token,
                subscriptions.c.bounce_count,
            ).where(subscriptions.c.id == found.subscription_id)
        ).first()
        if sub is None or sub.status != "active":
            # Unsubscribed or bounced since composing: this digest is never sent.
            conn.execute(outbox.update().where(outbox.c.id == found.id).values(status="cancelled"))
            continue
        row = _from_row(found)
        row.unsubscribe_token, row.bounce_count = sub.unsubscribe_token, sub.bounce_count
        return row


def mark_sent(conn: Connection, outbox_id: int, *, now: datetime | None = None) -> None:
    """Record a delivered digest."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id == outbox_id)
        .values(status="sent", sent_at=now or _now(), last_error=None)
    )


def mark_retry(conn: Connection, outbox_id: int, error: str, *, next_attempt_at: datetime) -> None:
    """Put a temporarily refused digest back in the queue for a later attempt."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id == outbox_id)
        .values(status="pending", next_attempt_at=next_attempt_at, last_error=error[:2000])
    )


def mark_final(conn: Connection, outbox_id: int, status: str, error: str) -> None:
    """End a digest's life as failed, bounced or cancelled."""
    if status not in ("failed", "bounced", "cancelled"):
        raise ValueError(f"not a final failure status: {status}")
    conn.execute(
        outbox.update()
        .where(outbox.c.id == outbox_id)
        .values(status=status, last_error=error[:2000])
    )


def release(conn: Connection, outbox_id: int, error: str) -> None:
    """Hand a claimed row back untouched (the connection failed before it was sent)."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id == outbox_id)
        .values(
            status="pending",
            attempts=sa.case((outbox.c.attempts > 0, outbox.c.attempts - 1), else_=0),
            last_error=error[:2000],
        )
    )


def cancel_inactive(conn: Connection) -> int:
    """Cancel unsent digests of subscriptions that unsubscribed or bounced since composing."""
    inactive = sa.select(subscriptions.c.id).where(subscriptions.c.status != "active")
    result = conn.execute(
        outbox.update()
        .where(outbox.c.status.in_(["pending", "sending"]), outbox.c.subscription_id.in_(inactive))
        .values(status="cancelled")
    )
    return int(result.rowcount or 0)


def status_counts(conn: Connection, *, period: str | None = None) -> dict[str, int]:
    """How many outbox rows are in each status (optionally for one period)."""
    q = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
    if period is not None:
        q = q.where(outbox.c.period == period)
    counts = {s: 0 for s in STATUSES}
    counts.update({r[0]: int(r[1]) for r in conn.execute(q)})
    return counts


def next_due_at(conn: Connection) -> datetime | None:
    """When the earliest pending row becomes due (for a retry-aware scheduler)."""
    q = sa.select(sa.func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "pending")
    return conn.execute(q).scalar_one_or_none()

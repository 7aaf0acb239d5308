"""The account-mail queue: rendered messages waiting to be sent, each claimed by one sender under a lease."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.schema import mail_queue

STATUSES = ("pending", "sending", "sent", "failed", "bounced")
_FINAL = ("sent", "failed", "bounced")


@dataclass(slots=True)
class QueuedMail:
    """One claimed message: its rendered text and the token that proves this sender holds it."""

    id: int
    to_addr: str
    subject: str
    message_id: str
    message: str
    attempts: int
    claim_token: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def enqueue(
    conn: Connection,
    to_addr: str,
    subject: str,
    message_id: str,
    message: str,
    *,
    now: datetime | None = None,
) -> int:
    """Queue a rendered message for sending now; return its id."""
    now = now or _now()
    result = conn.execute(
        mail_queue.insert()
        .values(
            to_addr=to_addr,
            to_key=to_addr.strip().lower(),
            subject=subject[:2000],
            message_id=message_id,
            message=message,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .returning(mail_queue.c.id)
    )
    return int(result.scalar_one())


def _claimable(now: datetime) -> Any:
    # Pending and due, or 'sending' by a sender whose lease ran out (it died mid-send).
    return sa.or_(
        sa.and_(mail_queue.c.status == "pending", mail_queue.c.next_attempt_at <= now),
        sa.and_(mail_queue.c.status == "sending", mail_queue.c.lease_until < now),
    )


def has_due(conn: Connection, *, now: datetime | None = None) -> bool:
    """True when some message can be claimed now (a read, so idle polling takes no write lock)."""
    q = sa.select(mail_queue.c.id).where(_claimable(now or _now())).limit(1)
    return conn.execute(q).first() is not None


def claim(conn: Connection, *, lease: timedelta, now: datetime | None = None) -> QueuedMail | None:
    """Mark the next due message 'sending' under a fresh claim token until now + lease; None when none.

    One UPDATE … RETURNING picks and marks the row: on PostgreSQL the sub-select skips rows
    another sender holds (FOR UPDATE SKIP LOCKED); SQLite serialises writers (BEGIN IMMEDIATE).
    """
    now = now or _now()
    pick = (
        sa.select(mail_queue.c.id)
        .where(_claimable(now))
        .order_by(mail_queue.c.next_attempt_at, mail_queue.c.id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    token = secrets.token_hex(16)
    row = conn.execute(
        mail_queue.update()
        .where(mail_queue.c.id == pick.scalar_subquery())
        .values(
            status="sending",
            claim_token=token,
            lease_until=now + lease,
            attempts=mail_queue.c.attempts + 1,
        )
        .returning(
            mail_queue.c.id,
            mail_queue.c.to_addr,
            mail_queue.c.subject,
            mail_queue.c.message_id,
            mail_queue.c.message,
            mail_queue.c.attempts,
        )
    ).first()
    if row is None:
        return None
    return QueuedMail(
        row.id, row.to_addr, row.subject, row.message_id, row.message, row.attempts, token
    )


def _held(mail: QueuedMail) -> Any:
    # Only the holder of the current claim may record an outcome: a sender whose lease ran out
    # and whose row another sender took cannot overwrite that sender's result.
    return sa.and_(
        mail_queue.c.id == mail.id,
        mail_queue.c.claim_token == mail.claim_token,
        mail_queue.c.status == "sending",
    )


def mark_sent(conn: Connection, mail: QueuedMail, *, now: datetime | None = None) -> bool:
    """Record a delivered message and drop its text (sign-in links are secrets); False if not held."""
    result = conn.execute(
        mail_queue.update()
        .where(_held(mail))
        .values(status="sent", sent_at=now or _now(), message="", last_error=None, claim_token=None)
    )
    return bool(result.rowcount)


def mark_retry(
    conn: Connection, mail: QueuedMail, error: str, *, next_attempt_at: datetime
) -> bool:
    """Put a message back in line for a later attempt."""
    result = conn.execute(
        mail_queue.update()
        .where(_held(mail))
        .values(
            status="pending",
            next_attempt_at=next_attempt_at,
            last_error=error[:2000],
            claim_token=None,
            lease_until=None,
        )
    )
    return bool(result.rowcount)


def mark_final(conn: Connection, mail: QueuedMail, status: str, error: str) -> bool:
    """End a message's life as failed or bounced, dropping its text."""
    if status not in ("failed", "bounced"):
        raise ValueError(f"not a final failure status: {status}")
    result = conn.execute(
        mail_queue.update()
        .where(_held(mail))
        .values(status=status, message="", last_error=error[:2000], claim_token=None)
    )
    return bool(result.rowcount)


def release(conn: Connection, mail: QueuedMail, error: str) -> bool:
    """Hand a claimed message back untouched (nothing reached the server), not counting the attempt."""
    result = conn.execute(
        mail_queue.update()
        .where(_held(mail))
        .values(
            status="pending",
            attempts=sa.case((mail_queue.c.attempts > 0, mail_queue.c.attempts - 1), else_=0),
            last_error=error[:2000],
            claim_token=None,
            lease_until=None,
        )
    )
    return bool(result.rowcount)


def delete_to(conn: Connection, address: str) -> int:
    """Delete every queued or recorded message to an address (account deletion); return how many."""
    result = conn.execute(mail_queue.delete().where(mail_queue.c.to_key == address.strip().lower()))
    return int(result.rowcount or 0)


def pending_count(conn: Connection) -> int:
    """Messages not yet delivered or given up: pending or being sent."""
    q = sa.select(sa.func.count()).where(mail_queue.c.status.in_(["pending", "sending"]))
    return int(conn.execute(q).scalar_one())


def status_counts(conn: Connection) -> dict[str, int]:
    """How many messages are in each status."""
    q = sa.select(mail_queue.c.status, sa.func.count()).group_by(mail_queue.c.status)
    counts = {s: 0 for s in STATUSES}
    counts.update({r[0]: int(r[1]) for r in conn.execute(q)})
    return counts


def purge_finished(conn: Connection, before: datetime) -> int:
    """Delete sent, failed and bounced rows created before `before` (their text is already gone)."""
    result = conn.execute(
        mail_queue.delete().where(mail_queue.c.status.in_(_FINAL), mail_queue.c.created_at < before)
    )
    return int(result.rowcount or 0)

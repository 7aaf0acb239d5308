"""The account-mail queue: rendered messages waiting to be sent, each claimed by one sender under a lease."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.leases import LeasedQueue
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


_QUEUE = LeasedQueue(mail_queue, "status", _FINAL)


def has_due(conn: Connection, *, now: datetime | None = None) -> bool:
    """True when some message can be claimed now (a read, so idle polling takes no write lock)."""
    return _QUEUE.has_due(conn, now or _now())


def claim(conn: Connection, *, lease: timedelta, now: datetime | None = None) -> QueuedMail | None:
    """Mark the next due message 'sending' under a fresh claim token until now + lease; None when none."""
    c = mail_queue.c
    columns = (c.id, c.to_addr, c.subject, c.message_id, c.message, c.attempts)
    claimed = _QUEUE.claim(conn, columns, lease=lease, now=now or _now())
    if claimed is None:
        return None
    row, token = claimed
    return QueuedMail(
        row.id, row.to_addr, row.subject, row.message_id, row.message, row.attempts, token
    )


def mark_sent(conn: Connection, mail: QueuedMail, *, now: datetime | None = None) -> bool:
    """Record a delivered message and drop its text (sign-in links are secrets); False if not held."""
    return _QUEUE.finish(
        conn, mail.id, mail.claim_token, "sent", sent_at=now or _now(), message="", last_error=None
    )


def mark_retry(
    conn: Connection, mail: QueuedMail, error: str, *, next_attempt_at: datetime
) -> bool:
    """Put a message back in line for a later attempt."""
    return _QUEUE.retry(conn, mail.id, mail.claim_token, error, next_attempt_at)


def mark_final(conn: Connection, mail: QueuedMail, status: str, error: str) -> bool:
    """End a message's life as failed or bounced, dropping its text."""
    if status not in ("failed", "bounced"):
        raise ValueError(f"not a final failure status: {status}")
    return _QUEUE.finish(conn, mail.id, mail.claim_token, status, message="", last_error=error)


def release(conn: Connection, mail: QueuedMail, error: str) -> bool:
    """Hand a claimed message back untouched (nothing reached the server), not counting the attempt."""
    attempts = mail_queue.c.attempts
    return _QUEUE.finish(
        conn,
        mail.id,
        mail.claim_token,
        "pending",
        attempts=sa.case((attempts > 0, attempts - 1), else_=0),
        last_error=error,
    )


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
    return _QUEUE.counts(conn, STATUSES)


def purge_finished(conn: Connection, before: datetime) -> int:
    """Delete sent, failed and bounced rows created before `before` (their text is already gone)."""
    return _QUEUE.purge_finished(conn, before)

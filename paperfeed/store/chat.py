"""Chat push: members' Apprise channels and the chat outbox, each row claimed by one sender under a lease."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import insert_for
from paperfeed.store.schema import chat_channels, chat_outbox

STATES = ("pending", "sending", "sent", "failed")
_FINAL = ("sent", "failed")
_KEY_MAX = 255


@dataclass(frozen=True, slots=True)
class Channel:
    """One Apprise URL a member added, with why its last alert was given up (if it was)."""

    id: int
    user_id: int
    url: str
    label: str
    enabled: bool
    created_at: datetime
    last_error: str | None
    last_error_at: datetime | None


@dataclass(slots=True)
class ClaimedAlert:
    """One claimed outbox row with its channel's URL and the token that proves this sender holds it."""

    id: int
    channel_id: int
    user_id: int
    url: str
    title: str
    body: str
    link: str
    attempts: int
    claim_token: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _channel(row: Any) -> Channel:
    return Channel(
        row.id,
        row.user_id,
        row.url,
        row.label,
        bool(row.enabled),
        row.created_at,
        row.last_error,
        row.last_error_at,
    )


# --- channels ---------------------------------------------------------------------------------


def add_channel(
    conn: Connection, user_id: int, url: str, label: str, *, now: datetime | None = None
) -> Channel:
    """Store a member's (already checked) Apprise URL; return the channel."""
    now = now or _now()
    new_id = conn.execute(
        chat_channels.insert()
        .values(user_id=user_id, url=url, label=label[:100], enabled=True, created_at=now)
        .returning(chat_channels.c.id)
    ).scalar_one()
    return Channel(int(new_id), user_id, url, label[:100], True, now, None, None)


def channels_of(conn: Connection, user_id: int) -> list[Channel]:
    """A member's channels, oldest first."""
    q = (
        sa.select(chat_channels)
        .where(chat_channels.c.user_id == user_id)
        .order_by(chat_channels.c.id)
    )
    return [_channel(r) for r in conn.execute(q)]


def get_channel(conn: Connection, user_id: int, channel_id: int) -> Channel | None:
    """One of the member's channels, or None when it is not theirs or does not exist."""
    q = sa.select(chat_channels).where(
        chat_channels.c.id == channel_id, chat_channels.c.user_id == user_id
    )
    row = conn.execute(q).first()
    return _channel(row) if row is not None else None


def count_channels(conn: Connection, user_id: int) -> int:
    """How many channels a member has."""
    q = sa.select(sa.func.count()).where(chat_channels.c.user_id == user_id)
    return int(conn.execute(q).scalar_one())


def remove_channel(conn: Connection, user_id: int, channel_id: int) -> bool:
    """Delete one of the member's channels with its queued and sent alerts; False if not theirs."""
    if get_channel(conn, user_id, channel_id) is None:
        return False
    conn.execute(chat_outbox.delete().where(chat_outbox.c.channel_id == channel_id))
    conn.execute(chat_channels.delete().where(chat_channels.c.id == channel_id))
    return True


def delete_for_user(conn: Connection, user_id: int) -> int:
    """Delete a member's channels and chat alerts (account deletion); return channels removed."""
    conn.execute(chat_outbox.delete().where(chat_outbox.c.user_id == user_id))
    result = conn.execute(chat_channels.delete().where(chat_channels.c.user_id == user_id))
    return int(result.rowcount or 0)


# --- the outbox -------------------------------------------------------------------------------


def dedupe_key(key: str) -> str:
    """The stored form of an alert key: itself when it fits the column, else its SHA-256."""
    if len(key) <= _KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _row(
    channel_id: int, user_id: int, key: str, title: str, body: str, url: str, now: datetime
) -> dict[str, Any]:
    return {
        "channel_id": channel_id,
        "user_id": user_id,
        "dedupe_key": dedupe_key(key),
        "title": title[:500],
        "body": body[:4000],
        "link": url[:2000],
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue_alert(
    conn: Connection,
    user_id: int,
    key: str,
    title: str,
    body: str,
    url: str,
    *,
    now: datetime | None = None,
) -> int:
    """Queue one alert for each enabled channel of the member, ignoring a key already queued; return rows added.

    Runs in the caller's transaction, so a match and its alerts commit (or roll back) together.
    """
    now = now or _now()
    channel_ids = conn.execute(
        sa.select(chat_channels.c.id).where(
            chat_channels.c.user_id == user_id, chat_channels.c.enabled.is_(True)
        )
    ).scalars()
    rows = [_row(int(cid), user_id, key, title, body, url, now) for cid in channel_ids]
    added = 0
    for row in rows:  # one statement each: RETURNING says whether this channel had the key
        stmt = (
            insert_for(conn, chat_outbox)
            .values(**row)
            .on_conflict_do_nothing()
            .returning(chat_outbox.c.id)
        )
        added += len(conn.execute(stmt).all())
    return added


def enqueue_to_channel(
    conn: Connection,
    channel: Channel,
    key: str,
    title: str,
    body: str,
    url: str,
    *,
    now: datetime | None = None,
) -> int:
    """Queue one alert for a single channel (the settings page's test message); return its id."""
    now = now or _now()
    row = _row(channel.id, channel.user_id, key, title, body, url, now)
    new_id = conn.execute(chat_outbox.insert().values(**row).returning(chat_outbox.c.id))
    return int(new_id.scalar_one())


def _claimable(now: datetime) -> Any:
    # Pending and due, or 'sending' by a sender whose lease ran out (it died mid-send); only
    # for channels that are switched on.
    enabled = (
        sa.select(chat_channels.c.id)
        .where(chat_channels.c.id == chat_outbox.c.channel_id, chat_channels.c.enabled.is_(True))
        .exists()
    )
    return sa.and_(
        sa.or_(
            sa.and_(chat_outbox.c.state == "pending", chat_outbox.c.next_attempt_at <= now),
            sa.and_(chat_outbox.c.state == "sending", chat_outbox.c.lease_until < now),
        ),
        enabled,
    )


def has_due(conn: Connection, *, now: datetime | None = None) -> bool:
    """True when some alert can be claimed now (a read, so idle polling takes no write lock)."""
    q = sa.select(chat_outbox.c.id).where(_claimable(now or _now())).limit(1)
    return conn.execute(q).first() is not None


def claim(
    conn: Connection, *, lease: timedelta, now: datetime | None = None
) -> ClaimedAlert | None:
    """Mark the next due alert 'sending' under a fresh claim token until now + lease; None when none.

    One UPDATE … RETURNING picks and marks the row: on PostgreSQL the sub-select skips rows
    another sender holds (FOR UPDATE SKIP LOCKED); SQLite serialises writers (BEGIN IMMEDIATE).
    """
    now = now or _now()
    pick = (
        sa.select(chat_outbox.c.id)
        .where(_claimable(now))
        .order_by(chat_outbox.c.next_attempt_at, chat_outbox.c.id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(of=chat_outbox, skip_locked=True)
    token = secrets.token_hex(16)
    row = conn.execute(
        chat_outbox.update()
        .where(chat_outbox.c.id == pick.scalar_subquery())
        .values(
            state="sending",
            claim_token=token,
            lease_until=now + lease,
            attempts=chat_outbox.c.attempts + 1,
        )
        .returning(
            chat_outbox.c.id,
            chat_outbox.c.channel_id,
            chat_outbox.c.user_id,
            chat_outbox.c.title,
            chat_outbox.c.body,
            chat_outbox.c.link,
            chat_outbox.c.attempts,
        )
    ).first()
    if row is None:
        return None
    url = conn.execute(
        sa.select(chat_channels.c.url).where(chat_channels.c.id == row.channel_id)
    ).scalar_one()
    return ClaimedAlert(
        row.id,
        row.channel_id,
        row.user_id,
        url,
        row.title,
        row.body,
        row.link,
        row.attempts,
        token,
    )


def _held(alert: ClaimedAlert) -> Any:
    # Only the holder of the current claim may record an outcome: a sender whose lease ran out
    # and whose row another sender took cannot overwrite that sender's result.
    return sa.and_(
        chat_outbox.c.id == alert.id,
        chat_outbox.c.claim_token == alert.claim_token,
        chat_outbox.c.state == "sending",
    )


def mark_sent(conn: Connection, alert: ClaimedAlert, *, now: datetime | None = None) -> bool:
    """Record a delivered alert and clear its channel's error; False if this sender no longer holds it."""
    result = conn.execute(
        chat_outbox.update()
        .where(_held(alert))
        .values(state="sent", sent_at=now or _now(), last_error=None, claim_token=None)
    )
    if not result.rowcount:
        return False
    conn.execute(
        chat_channels.update()
        .where(chat_channels.c.id == alert.channel_id)
        .values(last_error=None, last_error_at=None)
    )
    return True


def mark_retry(
    conn: Connection, alert: ClaimedAlert, error: str, *, next_attempt_at: datetime
) -> bool:
    """Put an alert back in line for a later attempt."""
    result = conn.execute(
        chat_outbox.update()
        .where(_held(alert))
        .values(
            state="pending",
            next_attempt_at=next_attempt_at,
            last_error=error[:2000],
            claim_token=None,
            lease_until=None,
        )
    )
    return bool(result.rowcount)


def mark_failed(
    conn: Connection, alert: ClaimedAlert, error: str, *, now: datetime | None = None
) -> bool:
    """Give an alert up and show the error on its channel."""
    now = now or _now()
    result = conn.execute(
        chat_outbox.update()
        .where(_held(alert))
        .values(state="failed", last_error=error[:2000], claim_token=None)
    )
    if not result.rowcount:
        return False
    conn.execute(
        chat_channels.update()
        .where(chat_channels.c.id == alert.channel_id)
        .values(last_error=error[:2000], last_error_at=now)
    )
    return True


def states_of(conn: Connection, user_id: int | None = None) -> dict[str, int]:
    """How many alerts are in each state, for one member or everyone."""
    q = sa.select(chat_outbox.c.state, sa.func.count()).group_by(chat_outbox.c.state)
    if user_id is not None:
        q = q.where(chat_outbox.c.user_id == user_id)
    counts = {s: 0 for s in STATES}
    counts.update({r[0]: int(r[1]) for r in conn.execute(q)})
    return counts


def purge_finished(conn: Connection, before: datetime) -> int:
    """Delete sent and failed alerts created before `before` (their keys stop deduplicating)."""
    result = conn.execute(
        chat_outbox.delete().where(
            chat_outbox.c.state.in_(_FINAL), chat_outbox.c.created_at < before
        )
    )
    return int(result.rowcount or 0)

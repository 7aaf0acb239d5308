"""Chat push: members' Apprise channels and the chat outbox, each row claimed by one sender under a lease."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import insert_for
from paperfeed.store.leases import LeasedQueue
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


_QUEUE = LeasedQueue(chat_outbox, "state", _FINAL)


def _enabled() -> Any:
    # Only alerts for channels that are switched on are claimed.
    return (
        sa.select(chat_channels.c.id)
        .where(chat_channels.c.id == chat_outbox.c.channel_id, chat_channels.c.enabled.is_(True))
        .exists()
    )


def has_due(conn: Connection, *, now: datetime | None = None) -> bool:
    """True when some alert can be claimed now (a read, so idle polling takes no write lock)."""
    return _QUEUE.has_due(conn, now or _now(), _enabled())


def claim(
    conn: Connection, *, lease: timedelta, now: datetime | None = None
) -> ClaimedAlert | None:
    """Mark the next due alert 'sending' under a fresh claim token until now + lease; None when none."""
    c = chat_outbox.c
    columns = (c.id, c.channel_id, c.user_id, c.title, c.body, c.link, c.attempts)
    claimed = _QUEUE.claim(conn, columns, lease=lease, now=now or _now(), where=_enabled())
    if claimed is None:
        return None
    row, token = claimed
    url = conn.execute(
        sa.select(chat_channels.c.url).where(chat_channels.c.id == row.channel_id)
    ).scalar_one()
    return ClaimedAlert(
        row.id, row.channel_id, row.user_id, url, row.title, row.body, row.link, row.attempts, token
    )


def _channel_error(
    conn: Connection, channel_id: int, error: str | None, at: datetime | None
) -> None:
    conn.execute(
        chat_channels.update()
        .where(chat_channels.c.id == channel_id)
        .values(last_error=error[:2000] if error else None, last_error_at=at)
    )


def mark_sent(conn: Connection, alert: ClaimedAlert, *, now: datetime | None = None) -> bool:
    """Record a delivered alert and clear its channel's error; False if this sender no longer holds it."""
    if not _QUEUE.finish(
        conn, alert.id, alert.claim_token, "sent", sent_at=now or _now(), last_error=None
    ):
        return False
    _channel_error(conn, alert.channel_id, None, None)
    return True


def mark_retry(
    conn: Connection, alert: ClaimedAlert, error: str, *, next_attempt_at: datetime
) -> bool:
    """Put an alert back in line for a later attempt."""
    return _QUEUE.retry(conn, alert.id, alert.claim_token, error, next_attempt_at)


def mark_failed(
    conn: Connection, alert: ClaimedAlert, error: str, *, now: datetime | None = None
) -> bool:
    """Give an alert up and show the error on its channel."""
    if not _QUEUE.finish(conn, alert.id, alert.claim_token, "failed", last_error=error):
        return False
    _channel_error(conn, alert.channel_id, error, now or _now())
    return True


def states_of(conn: Connection, user_id: int | None = None) -> dict[str, int]:
    """How many alerts are in each state, for one member or everyone."""
    where = sa.true() if user_id is None else chat_outbox.c.user_id == user_id
    return _QUEUE.counts(conn, STATES, where)


def purge_finished(conn: Connection, before: datetime) -> int:
    """Delete sent and failed alerts created before `before` (their keys stop deduplicating)."""
    return _QUEUE.purge_finished(conn, before)

"""A member's chat channels: add an Apprise URL, remove it, send it a test message."""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass

from paperfeed.config import Settings
from paperfeed.digest import chat as chat_push
from paperfeed.digest import chat_target
from paperfeed.errors import InvalidInput, NotFound, RateLimited
from paperfeed.models import User
from paperfeed.service.members import check_confirmed
from paperfeed.store import Database, ratelimits
from paperfeed.store import chat as chat_store

_TEST_WINDOW = 3600.0


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A channel as the member sees it: the URL masked, never its secrets."""

    id: int
    label: str
    masked_url: str
    enabled: bool
    last_error: str | None


def channels(db: Database, user: User) -> list[ChannelView]:
    """The member's channels for the settings page."""
    with db.read() as conn:
        rows = chat_store.channels_of(conn, user.id)
    return [
        ChannelView(c.id, c.label, chat_target.mask(c.url), c.enabled, c.last_error) for c in rows
    ]


def add_channel(
    db: Database, settings: Settings, user: User, url: str, label: str = ""
) -> ChannelView:
    """Check an Apprise URL (scheme, form, public host) and add it, up to chat_max_channels."""
    check_confirmed(user)
    target = chat_target.check(url, allow_private=settings.chat_allow_private_targets)
    label = " ".join((label or "").split())[:100] or target.scheme
    with db.write() as conn:
        if chat_store.count_channels(conn, user.id) >= settings.chat_max_channels:
            raise InvalidInput(
                f"a member may add at most {settings.chat_max_channels} chat channels; "
                "remove one first"
            )
        ch = chat_store.add_channel(conn, user.id, target.url, label)
    return ChannelView(ch.id, ch.label, chat_target.mask(ch.url), ch.enabled, None)


def remove_channel(db: Database, user: User, channel_id: int) -> None:
    """Remove one of the member's channels with its queued alerts."""
    with db.write() as conn:
        if not chat_store.remove_channel(conn, user.id, channel_id):
            raise NotFound("no such chat channel")


def test_channel(db: Database, settings: Settings, user: User, channel_id: int) -> int:
    """Queue a test message to one channel (rate-limited per member) and wake the sender; return its id."""
    check_confirmed(user)
    with db.write() as conn:
        channel = chat_store.get_channel(conn, user.id, channel_id)
        if channel is None:
            raise NotFound("no such chat channel")
        now = time.time()
        end, hits = ratelimits.hit(conn, "chat_test", str(user.id), now=now, window=_TEST_WINDOW)
        if hits > settings.chat_test_rate_per_hour:
            wait = max(1, math.ceil(end - now))
            raise RateLimited(
                f"too many test messages: try again in {wait // 60 + 1} minutes", retry_after=wait
            )
        alert_id = chat_store.enqueue_to_channel(
            conn,
            channel,
            f"test:{secrets.token_hex(8)}",
            f"{settings.site_name}: test message",
            "Chat alerts for the papers you follow will arrive here.",
            settings.base_url,
        )
    chat_push.wake(db)
    return alert_id

"""Digest subscriptions: subscribing an address (double opt-in), a member's digest, preferences."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

from paperfeed.config import Settings
from paperfeed.digest import postbox
from paperfeed.digest.compose import normalize_sections
from paperfeed.digest.render import confirmation_message
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import User
from paperfeed.store import Database
from paperfeed.store import subscriptions as store_subs
from paperfeed.store.subscriptions import Subscription

__all__ = [
    "DEFAULT_SECTIONS",
    "MAX_SEARCHES",
    "Preferences",
    "Subscribed",
    "check_preferences",
    "confirm_token_hash",
    "member_subscription",
    "save_member",
    "stop_member",
    "subscribe",
    "update_by_token",
]

DEFAULT_SECTIONS = ("trending", "featured")
MAX_SEARCHES = 5
SEARCH_QUERY_MAX = 200
SEARCH_CATEGORIES_MAX = 10


@dataclass(frozen=True, slots=True)
class Preferences:
    """Checked digest preferences: how often, when (hour in a time zone), what, which searches."""

    frequency: str
    hour: int
    timezone: str
    sections: list[str]
    searches: list[dict[str, Any]] = field(default_factory=list)

    def as_fields(self) -> dict[str, Any]:
        """The preferences as the store's keyword arguments."""
        return {
            "frequency": self.frequency,
            "hour": self.hour,
            "timezone": self.timezone,
            "sections": self.sections,
            "searches": self.searches,
        }


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The answer to a subscribe request: the address, and whether a confirmation mail is queued."""

    email: str
    mailed: bool


def confirm_token_hash(token: str) -> str:
    """The stored digest of a confirmation link's token (the link holds the only copy)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_preferences(
    *,
    frequency: str,
    hour: int,
    timezone: str,
    sections: list[str],
    searches: list[tuple[str, list[str]]],
) -> Preferences:
    """Preferences from what a member chose, or InvalidInput naming the first bad choice."""
    if frequency not in store_subs.FREQUENCIES:
        raise InvalidInput("choose daily or weekly")
    if not 0 <= hour <= 23:
        raise InvalidInput("the hour is a number from 0 to 23")
    tz = timezone.strip() or "UTC"
    if tz != "UTC" and tz not in available_timezones():
        raise InvalidInput(f"unknown time zone {tz!r}: use a name such as Europe/Paris")
    saved = []
    for query, cats in searches[:MAX_SEARCHES]:
        query, cats = query.strip()[:SEARCH_QUERY_MAX], [c for c in cats if c]
        if query or cats:
            filters = {"categories": cats[:SEARCH_CATEGORIES_MAX]} if cats else {}
            saved.append({"query": query, "filters": filters})
    return Preferences(frequency, hour, tz, normalize_sections(sections), saved)


def subscribe(
    db: Database, settings: Settings, email: str, *, frequency: str = "daily"
) -> Subscribed:
    """Ask an address to confirm a digest subscription (the mail is queued, sent in the background)."""
    if frequency not in store_subs.FREQUENCIES:
        frequency = "daily"  # the public form's default: a stray value must not lose the request
    token = secrets.token_urlsafe(24)
    with db.write() as conn:
        _sub, send = store_subs.request(
            conn,
            email,
            confirm_token_hash=confirm_token_hash(token),
            unsubscribe_token=secrets.token_urlsafe(24),
            frequency=frequency,
            sections=list(DEFAULT_SECTIONS),
            timezone=settings.digest_timezone,
            hour=settings.digest_hour,
        )
        if send:
            # Queued in the same transaction: new, pending and active addresses cost one commit
            # each, and the background sender's SMTP time never reaches the answer.
            url = f"{settings.base_url.rstrip('/')}/subscribe/confirm/{token}"
            postbox.enqueue(conn, confirmation_message(settings, email, url))
    if send:
        postbox.wake(settings, db)
    return Subscribed(email, send)


def member_subscription(db: Database, user: User) -> Subscription | None:
    """The member's digest subscription, if they have one."""
    with db.read() as conn:
        return store_subs.for_user(conn, user.id)


def _check_member(user: User) -> None:
    if not user.verified:
        raise InvalidInput("confirm your email address first (see the link we sent you)")


def save_member(db: Database, user: User, prefs: Preferences) -> Subscription:
    """Subscribe the member to digests with these preferences, or change them (no opt-in mail)."""
    _check_member(user)
    with db.write() as conn:
        return store_subs.subscribe_member(
            conn,
            user.id,
            user.email,
            unsubscribe_token=secrets.token_urlsafe(24),
            **prefs.as_fields(),
        )


def stop_member(db: Database, user: User) -> Subscription | None:
    """Stop the member's digests; the stopped subscription, or None when there was none."""
    _check_member(user)
    with db.write() as conn:
        sub = store_subs.for_user(conn, user.id)
        return store_subs.unsubscribe(conn, sub.unsubscribe_token) if sub is not None else None


def update_by_token(db: Database, token: str, prefs: Preferences) -> Subscription:
    """Save the preferences of the subscription whose emails carry this token."""
    with db.write() as conn:
        sub = store_subs.get_by_unsubscribe_token(conn, token)
        updated = store_subs.update_preferences(conn, sub.id, **prefs.as_fields()) if sub else None
    if updated is None:
        raise NotFound("this link is incomplete or the subscription was removed")
    return updated

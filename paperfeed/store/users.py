"""Users: accounts with a unique (case-insensitive) email, a unique username and a role."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.errors import Conflict, InvalidInput
from paperfeed.models import User
from paperfeed.store import chat as chat_store
from paperfeed.store import mailqueue
from paperfeed.store.schema import (
    auth_tokens,
    comments,
    feed_entries,
    outbox,
    papers,
    sent_items,
    sessions,
    submissions,
    subscriptions,
    users,
    votes,
)
from paperfeed.store.votes import adjust_count

ROLES = ("admin", "curator", "member")
_SLUG = re.compile(r"[^a-z0-9]+")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def email_key(email: str) -> str:
    """The lookup key of an address: stripped and lower-cased, so case never makes two accounts."""
    return email.strip().lower()


def user_from_row(row: Any) -> User:
    """Build a User model from a users row."""
    return User(
        id=row.id,
        email=row.email,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        password_hash=row.password_hash,
        email_verified_at=row.email_verified_at,
        github_url=row.github_url,
        orcid_url=row.orcid_url,
        created_at=row.created_at,
    )


def _free_username(conn: Connection, wanted: str) -> str:
    base = _SLUG.sub("-", wanted.lower()).strip("-")[:30] or "member"
    taken = {
        r[0]
        for r in conn.execute(
            sa.select(users.c.username).where(
                sa.or_(users.c.username == base, users.c.username.like(base + "-%"))
            )
        )
    }
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def create_user(
    conn: Connection,
    email: str,
    display_name: str,
    *,
    password_hash: str | None = None,
    role: str = "member",
    verified: bool = False,
) -> User:
    """Insert a user with a fresh username; Conflict when the address is already in use."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    key = email_key(email)
    if get_by_email(conn, key) is not None:
        raise Conflict(f"an account for {email.strip()} already exists")
    now = _now()
    username = _free_username(conn, display_name or key.partition("@")[0])
    row = conn.execute(
        users.insert()
        .values(
            email=email.strip(),
            email_key=key,
            username=username,
            display_name=display_name.strip() or username,
            password_hash=password_hash,
            role=role,
            email_verified_at=now if verified else None,
            created_at=now,
        )
        .returning(users.c.id)
    ).scalar_one()
    user = get_user(conn, int(row))
    assert user is not None
    return user


def get_user(conn: Connection, user_id: int) -> User | None:
    """One user by id, or None."""
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    return user_from_row(row) if row else None


def get_by_email(conn: Connection, email: str) -> User | None:
    """One user by address, ignoring case, or None."""
    row = conn.execute(sa.select(users).where(users.c.email_key == email_key(email))).first()
    return user_from_row(row) if row else None


def get_by_username(conn: Connection, username: str) -> User | None:
    """One user by username, or None."""
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    return user_from_row(row) if row else None


def count_users(conn: Connection) -> int:
    """How many accounts exist."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())


def update_profile(
    conn: Connection,
    user_id: int,
    *,
    display_name: str | None = None,
    github_url: str | None = None,
    orcid_url: str | None = None,
) -> None:
    """Change profile text fields; None leaves a field as it is, "" clears a URL."""
    values: dict[str, Any] = {}
    if display_name is not None:
        values["display_name"] = display_name.strip()
    if github_url is not None:
        values["github_url"] = github_url.strip() or None
    if orcid_url is not None:
        values["orcid_url"] = orcid_url.strip() or None
    if values:
        conn.execute(sa.update(users).where(users.c.id == user_id).values(**values))


def set_password_hash(conn: Connection, user_id: int, password_hash: str | None) -> None:
    """Store a new password hash (None removes password sign-in)."""
    conn.execute(sa.update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def set_email(conn: Connection, user_id: int, email: str) -> None:
    """Change the address (already confirmed by the caller); Conflict when another account has it."""
    other = get_by_email(conn, email)
    if other is not None and other.id != user_id:
        raise Conflict(f"an account for {email.strip()} already exists")
    conn.execute(
        sa.update(users)
        .where(users.c.id == user_id)
        .values(email=email.strip(), email_key=email_key(email), email_verified_at=_now())
    )
    _move_digests(conn, user_id, email)


def _move_digests(conn: Connection, user_id: int, email: str) -> None:
    """Send the member's digests to their new address from now on, never to the old one."""
    key, now = email_key(email), _now()
    mine = conn.execute(
        sa.select(subscriptions.c.id).where(subscriptions.c.user_id == user_id)
    ).scalar_one_or_none()
    there = conn.execute(
        sa.select(subscriptions.c.id).where(subscriptions.c.email_key == key)
    ).scalar_one_or_none()
    if mine is None or mine == there:
        return
    if there is None:
        conn.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.id == mine)
            .values(email=email.strip(), email_key=key, updated_at=now)
        )
        # Digests composed before the change would still go to the old address.
        conn.execute(
            sa.update(outbox)
            .where(outbox.c.subscription_id == mine, outbox.c.status == "pending")
            .values(to_addr=email.strip())
        )
        return
    # The new address already has its own (anonymous) subscription: it becomes the member's,
    # and the old address stops (its queued digests are cancelled when claimed).
    conn.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.id == mine)
        .values(user_id=None, status="unsubscribed", unsubscribed_at=now, updated_at=now)
    )
    conn.execute(
        sa.update(subscriptions).where(subscriptions.c.id == there).values(user_id=user_id)
    )


def mark_verified(conn: Connection, user_id: int) -> None:
    """Record that the user confirmed their address (the first confirmation time is kept)."""
    conn.execute(
        sa.update(users)
        .where(users.c.id == user_id, users.c.email_verified_at.is_(None))
        .values(email_verified_at=_now())
    )


def set_role(conn: Connection, user_id: int, role: str) -> None:
    """Give a user a role: admin, curator or member."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    conn.execute(sa.update(users).where(users.c.id == user_id).values(role=role))


def delete_user(conn: Connection, user_id: int) -> bool:
    """Delete an account and everything that acts for it or mails it, keeping paper counters right."""
    # Goes: votes, comments, sessions, emailed tokens, and every digest subscription of the member
    # or of the account's address with its queued and sent digests; library rows follow by
    # ON DELETE CASCADE. Submitted papers stay on the feed without the name.
    user = get_user(conn, user_id)
    if user is None:
        return False
    voted = [
        r[0] for r in conn.execute(sa.select(votes.c.paper_id).where(votes.c.user_id == user_id))
    ]
    for pid in voted:
        adjust_count(conn, pid, -1)
    counted = conn.execute(
        sa.select(comments.c.paper_id, sa.func.count())
        .where(comments.c.user_id == user_id, comments.c.deleted_at.is_(None))
        .group_by(comments.c.paper_id)
    ).all()
    for pid, n in counted:
        conn.execute(
            sa.update(papers)
            .where(papers.c.id == pid)
            .values(
                num_comments=sa.case(
                    (papers.c.num_comments > n, papers.c.num_comments - n), else_=0
                )
            )
        )
    # A deleted account's name leaves the feed's "submitted by" too.
    conn.execute(
        sa.update(feed_entries)
        .where(feed_entries.c.submitted_by == user.username, feed_entries.c.source == "community")
        .values(submitted_by=None)
    )
    _delete_digests(conn, user_id, user.email)
    mailqueue.delete_to(conn, user.email)  # a queued sign-in link must not outlive the account
    chat_store.delete_for_user(conn, user_id)  # chat channels and their queued alerts
    conn.execute(sa.delete(votes).where(votes.c.user_id == user_id))
    conn.execute(sa.delete(comments).where(comments.c.user_id == user_id))
    conn.execute(sa.delete(sessions).where(sessions.c.user_id == user_id))
    conn.execute(sa.delete(auth_tokens).where(auth_tokens.c.user_id == user_id))
    conn.execute(
        sa.update(submissions).where(submissions.c.user_id == user_id).values(user_id=None)
    )
    return bool(conn.execute(sa.delete(users).where(users.c.id == user_id)).rowcount)


def _delete_digests(conn: Connection, user_id: int, email: str) -> None:
    """Remove the digest subscriptions of a member or an address, with their outbox and history."""
    key = email_key(email)
    # subscriptions.user_id is ON DELETE SET NULL: left alone, the row would stay active as an
    # anonymous subscription and keep mailing the former member.
    subs = sa.select(subscriptions.c.id).where(
        sa.or_(subscriptions.c.user_id == user_id, subscriptions.c.email_key == key)
    )
    ids = [r[0] for r in conn.execute(subs)]
    # A digest composed before an address change still carries the old address: match it too.
    conn.execute(sa.delete(outbox).where(sa.func.lower(outbox.c.to_addr) == key))
    if ids:
        conn.execute(sa.delete(outbox).where(outbox.c.subscription_id.in_(ids)))
        conn.execute(sa.delete(sent_items).where(sent_items.c.subscription_id.in_(ids)))
        conn.execute(sa.delete(subscriptions).where(subscriptions.c.id.in_(ids)))

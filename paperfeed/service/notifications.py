"""A member's notifications: what comments tell others (replies, @mentions), reading, marking read."""

from __future__ import annotations

import re

from sqlalchemy.engine import Connection

from paperfeed.models import Comment, User
from paperfeed.store import Database
from paperfeed.store import claims as claim_store
from paperfeed.store import notifications as store_notes
from paperfeed.store.notifications import Notification

# `@username` (the name in a member's profile URL), not preceded by a letter, digit, dot or @,
# so an address such as mail@example.org is no mention.
MENTION = re.compile(r"(?<![\w.@])@([a-z0-9][a-z0-9-]{0,39})", re.IGNORECASE)
MAX_MENTIONS = 20  # per comment: more would turn a comment into a mass mailing


def mentions(body: str) -> list[str]:
    """The usernames a comment mentions, lower-cased, in order, at most MAX_MENTIONS."""
    names = dict.fromkeys(m.group(1).lower().rstrip("-") for m in MENTION.finditer(body))
    return list(names)[:MAX_MENTIONS]


def claimed_members(conn: Connection, paper_id: str) -> list[int]:
    """Members whose claimed authorship of the paper is confirmed."""
    # The store query, not service.claims.claimed_members: this runs inside the comment's transaction.
    return claim_store.confirmed_members(conn, paper_id)


def for_comment(conn: Connection, comment: Comment, title: str) -> int:
    """Notify, once each: members mentioned, earlier commenters (a reply), claimed authors."""
    who = comment.author_name or comment.author_username or "someone"
    on = f"“{title}”"
    rows: list[tuple[int, str, str, str | None, str]] = []
    mentioned = store_notes.users_by_username(conn, mentions(comment.body))
    for uid in mentioned.values():
        rows.append(
            (
                uid,
                f"comment:{comment.id}",
                "mention",
                comment.paper_id,
                f"{who} mentioned you on {on}",
            )
        )
    for uid in store_notes.earlier_commenters(conn, comment.paper_id, comment.id):
        rows.append(
            (uid, f"comment:{comment.id}", "reply", comment.paper_id, f"{who} replied on {on}")
        )
    for uid in claimed_members(conn, comment.paper_id):
        text = f"{who} commented on your paper {on}"
        rows.append((uid, f"comment:{comment.id}", "claimed", comment.paper_id, text))
    # One notification per member and comment: a mention wins over a reply (first row kept).
    return store_notes.add_many(conn, [r for r in rows if r[0] != comment.user_id])


def list_for(
    db: Database, user: User, *, before_id: int | None = None, limit: int = 50
) -> list[Notification]:
    """The member's notifications, newest first."""
    with db.read() as conn:
        return store_notes.list_for(conn, user.id, before_id=before_id, limit=limit)


def unread(db: Database, user: User) -> int:
    """How many notifications the member has not read."""
    with db.read() as conn:
        return store_notes.unread_count(conn, user.id)


def mark_read(db: Database, user: User, ids: list[int] | None = None) -> int:
    """Mark the given (or all) notifications of the member read."""
    with db.write() as conn:
        return store_notes.mark_read(conn, user.id, ids or [])

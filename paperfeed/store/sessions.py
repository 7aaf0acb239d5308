"""Server-side sessions and single-use tokens (magic links, verification), stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.errors import PermissionDenied
from paperfeed.models import User
from paperfeed.store.schema import auth_tokens, sessions, users
from paperfeed.store.users import user_from_row

TOKEN_KINDS = ("login", "verify", "email")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest under which a secret token is stored (a DB leak reveals no token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random URL-safe secret with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def create_session(conn: Connection, user_id: int, *, days: float) -> str:
    """Start a session for a verified user and return the secret cookie value."""
    verified = conn.execute(
        sa.select(users.c.email_verified_at).where(users.c.id == user_id)
    ).scalar_one_or_none()
    if verified is None:  # only whoever opened a link mailed to the address may hold a session
        raise PermissionDenied("confirm the email address first: open the link we emailed")
    token = new_token()
    now = _now()
    conn.execute(
        sessions.insert().values(
            token_hash=token_hash(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    return token


def session_user(conn: Connection, token: str) -> User | None:
    """The verified user a live session cookie belongs to, or None when unknown or expired."""
    row = conn.execute(
        sa.select(users)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(
            sessions.c.token_hash == token_hash(token),
            sessions.c.expires_at > _now(),
            users.c.email_verified_at.is_not(None),
        )
    ).first()
    return user_from_row(row) if row else None


def session_started(conn: Connection, token: str) -> datetime | None:
    """When the session of this cookie began (its sign-in time), or None when it is not live."""
    return conn.execute(  # type: ignore[no-any-return]
        sa.select(sessions.c.created_at).where(
            sessions.c.token_hash == token_hash(token), sessions.c.expires_at > _now()
        )
    ).scalar_one_or_none()


def delete_session(conn: Connection, token: str) -> bool:
    """End one session on the server; True when it existed."""
    res = conn.execute(sa.delete(sessions).where(sessions.c.token_hash == token_hash(token)))
    return bool(res.rowcount)


def delete_user_sessions(conn: Connection, user_id: int, *, keep: str | None = None) -> int:
    """End every session of a user (except the one whose cookie is `keep`)."""
    q = sa.delete(sessions).where(sessions.c.user_id == user_id)
    if keep:
        q = q.where(sessions.c.token_hash != token_hash(keep))
    return int(conn.execute(q).rowcount or 0)


def revoke_tokens(conn: Connection, user_id: int) -> int:
    """Delete every unused emailed token of a user; returns how many went."""
    q = sa.delete(auth_tokens).where(
        auth_tokens.c.user_id == user_id, auth_tokens.c.used_at.is_(None)
    )
    return int(conn.execute(q).rowcount or 0)


def purge_expired(conn: Connection) -> int:
    """Delete expired sessions and tokens; returns how many rows went."""
    now = _now()
    n = conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= now)).rowcount or 0
    n += conn.execute(sa.delete(auth_tokens).where(auth_tokens.c.expires_at <= now)).rowcount or 0
    return int(n)


def create_token(
    conn: Connection, user_id: int, kind: str, *, minutes: float, data: str | None = None
) -> str:
    """Issue a single-use token of a kind (login, verify, email) and return the secret."""
    if kind not in TOKEN_KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    token = new_token()
    now = _now()
    conn.execute(
        auth_tokens.insert().values(
            token_hash=token_hash(token),
            kind=kind,
            user_id=user_id,
            data=data,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    return token


def peek_token(conn: Connection, token: str, kind: str) -> tuple[User, str | None] | None:
    """The user and data of a live unused token without consuming it (for the confirm page)."""
    row = conn.execute(
        sa.select(users, auth_tokens.c.data.label("token_data"))
        .join(auth_tokens, auth_tokens.c.user_id == users.c.id)
        .where(
            auth_tokens.c.token_hash == token_hash(token),
            auth_tokens.c.kind == kind,
            auth_tokens.c.used_at.is_(None),
            auth_tokens.c.expires_at > _now(),
        )
    ).first()
    return (user_from_row(row), row.token_data) if row else None


def consume_token(conn: Connection, token: str, kind: str) -> tuple[User, str | None] | None:
    """Use a token once: the user and data when live and unused, else None (replays get None)."""
    now = _now()
    # The conditional UPDATE is the single-use guard: of two racing requests only one matches.
    res = conn.execute(
        sa.update(auth_tokens)
        .where(
            auth_tokens.c.token_hash == token_hash(token),
            auth_tokens.c.kind == kind,
            auth_tokens.c.used_at.is_(None),
            auth_tokens.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(auth_tokens.c.user_id, auth_tokens.c.data)
    ).first()
    if res is None:
        return None
    row = conn.execute(sa.select(users).where(users.c.id == res.user_id)).first()
    return (user_from_row(row), res.data) if row else None

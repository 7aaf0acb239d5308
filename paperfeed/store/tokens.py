"""Personal API tokens: rows keyed by the SHA-256 of the secret, found by its display prefix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from paperfeed.models import TokenInfo, User
from paperfeed.store.schema import api_tokens
from paperfeed.store.users import get_user


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token row with its owner, for checking a presented secret."""

    info: TokenInfo
    user: User
    token_hash: str
    revoked_at: datetime | None


def _info(row: Row[tuple[object, ...]]) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        scope=row.scope,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
    )


def insert(
    conn: Connection,
    user_id: int,
    *,
    name: str,
    scope: str,
    token_hash: str,
    prefix: str,
    now: datetime,
    expires_at: datetime | None,
) -> TokenInfo:
    """Store a new token and return it as its owner sees it."""
    token_id = conn.execute(
        api_tokens.insert()
        .values(
            user_id=user_id,
            name=name,
            scope=scope,
            token_hash=token_hash,
            prefix=prefix,
            created_at=now,
            expires_at=expires_at,
        )
        .returning(api_tokens.c.id)
    ).scalar_one()
    return TokenInfo(int(token_id), name, scope, prefix, now, None, expires_at)


def by_prefix(conn: Connection, prefix: str) -> list[StoredToken]:
    """Every token (revoked ones too) whose secret starts with this prefix, with its owner."""
    rows = conn.execute(sa.select(api_tokens).where(api_tokens.c.prefix == prefix)).all()
    out = []
    for r in rows:
        user = get_user(conn, r.user_id)
        if user is not None:
            out.append(StoredToken(_info(r), user, r.token_hash, r.revoked_at))
    return out


def count_live(conn: Connection, user_id: int, now: datetime) -> int:
    """How many unrevoked, unexpired tokens a member holds."""
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(api_tokens).where(*_live(user_id, now))
        ).scalar_one()
    )


def _live(user_id: int, now: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        api_tokens.c.user_id == user_id,
        api_tokens.c.revoked_at.is_(None),
        sa.or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
    ]


def list_live(conn: Connection, user_id: int, now: datetime) -> list[TokenInfo]:
    """A member's unrevoked, unexpired tokens, newest first."""
    rows = conn.execute(
        sa.select(api_tokens).where(*_live(user_id, now)).order_by(api_tokens.c.id.desc())
    ).all()
    return [_info(r) for r in rows]


def revoke(conn: Connection, user_id: int, token_id: int, now: datetime) -> bool:
    """Revoke one of the member's unrevoked tokens; False when there is no such token."""
    result = conn.execute(
        sa.update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            api_tokens.c.user_id == user_id,
            api_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def touch(conn: Connection, token_id: int, now: datetime, *, older_than: datetime) -> None:
    """Record a use, unless one was recorded after `older_than` (a write at most once a minute)."""
    conn.execute(
        sa.update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            sa.or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at < older_than),
        )
        .values(last_used_at=now)
    )

"""Personal API tokens: created, listed, revoked, expired and checked, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from paperfeed.errors import InvalidInput, NotFound, PermissionDenied, Unauthorized
from paperfeed.models import User
from paperfeed.service import tokens
from paperfeed.store import Database
from paperfeed.store import users as user_store
from paperfeed.store.schema import api_tokens


def _member(db: Database, email: str = "ada@example.org", *, verified: bool = True) -> User:
    with db.write() as conn:
        return user_store.create_user(conn, email, email.split("@")[0].title(), verified=verified)


def test_a_token_is_shown_once_stored_hashed_and_authenticates(db: Database) -> None:
    ada = _member(db)
    created = tokens.create_token(db, ada, scope="write", name="laptop")
    assert re.fullmatch(r"pf_[A-Za-z0-9_-]{43}", created.secret)
    info = created.token
    assert (info.name, info.scope, info.last_used_at, info.expires_at) == (
        "laptop",
        "write",
        None,
        None,
    )
    assert created.secret.startswith(info.prefix) and len(info.prefix) == 11
    with db.read() as conn:
        stored = conn.execute(sa.select(api_tokens)).one()
    assert created.secret not in [str(v) for v in stored]  # only the digest is kept
    principal = tokens.authenticate(db, created.secret)
    assert (principal.user.id, principal.token_id, principal.scope) == (ada.id, info.id, "write")
    assert principal.limit_key == f"token:{info.id}"
    used = tokens.list_tokens(db, ada)[0].last_used_at
    assert used is not None
    tokens.authenticate(db, created.secret)  # within the minute: last_used_at is not rewritten
    assert tokens.list_tokens(db, ada)[0].last_used_at == used


def test_unknown_revoked_and_expired_tokens_are_refused_with_the_reason(db: Database) -> None:
    ada, bob = _member(db), _member(db, "bob@example.org")
    live = tokens.create_token(db, ada)
    with pytest.raises(Unauthorized, match="unknown"):
        tokens.authenticate(db, "hf_notours")
    with pytest.raises(Unauthorized, match="unknown"):
        tokens.authenticate(db, live.secret[:-1] + ("A" if live.secret[-1] != "A" else "B"))
    with pytest.raises(NotFound):
        tokens.revoke_token(db, bob, live.token.id)  # not Bob's to revoke
    tokens.authenticate(db, live.secret)
    tokens.revoke_token(db, ada, live.token.id)
    with pytest.raises(Unauthorized, match="revoked"):
        tokens.authenticate(db, live.secret)
    with pytest.raises(NotFound):
        tokens.revoke_token(db, ada, live.token.id)  # already revoked
    assert tokens.list_tokens(db, ada) == []
    old = tokens.create_token(db, ada, expires_days=1)
    with db.write() as conn:
        past = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
        conn.execute(
            sa.update(api_tokens).where(api_tokens.c.id == old.token.id).values(expires_at=past)
        )
    with pytest.raises(Unauthorized, match="expired"):
        tokens.authenticate(db, old.secret)
    assert tokens.list_tokens(db, ada) == []


def test_scopes_and_input_rules(db: Database) -> None:
    ada = _member(db)
    read = tokens.authenticate(db, tokens.create_token(db, ada).secret)
    assert read.scope == "read"
    tokens.require_scope(read, "read")
    with pytest.raises(PermissionDenied, match="read-only"):
        tokens.require_scope(read, "write")
    write = tokens.authenticate(db, tokens.create_token(db, ada, scope="write").secret)
    tokens.require_scope(write, "write")
    with pytest.raises(InvalidInput, match="scope"):
        tokens.create_token(db, ada, scope="admin")
    with pytest.raises(InvalidInput, match="days"):
        tokens.create_token(db, ada, expires_days=0)
    with pytest.raises(InvalidInput, match="limit"):
        tokens.create_token(db, ada, name="x" * 101)
    with pytest.raises(PermissionDenied, match="confirm"):
        tokens.create_token(db, _member(db, "eve@example.org", verified=False))
    assert [t.scope for t in tokens.list_tokens(db, ada)] == ["write", "read"]  # newest first

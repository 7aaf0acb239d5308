"""Personal API tokens: creating, listing and revoking them, and turning a bearer secret into a member."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from paperfeed.errors import InvalidInput, NotFound, PermissionDenied, Unauthorized
from paperfeed.models import TokenInfo, User
from paperfeed.service.members import check_confirmed
from paperfeed.store import Database
from paperfeed.store import tokens as token_store

__all__ = [
    "CreatedToken",
    "Principal",
    "TokenInfo",
    "authenticate",
    "create_token",
    "list_tokens",
    "require_scope",
    "revoke_token",
]

SCOPES = ("read", "write")
SECRET_PREFIX = "pf_"
PREFIX_CHARS = (
    8  # of the random part shown as the token's prefix: 48 bits, so lookups rarely collide
)
NAME_MAX = 100
EXPIRES_DAYS_MAX = 3650
TOKENS_MAX = 50  # live tokens per member: enough for every machine and agent, bounded rows
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
_SHAPE = re.compile(r"pf_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new token: the secret (shown to its owner once, never stored) and its stored details."""

    secret: str
    token: TokenInfo


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a bearer request acts as: the member, through which token, with which scope."""

    user: User
    token_id: int
    scope: str

    @property
    def limit_key(self) -> str:
        """The key write limits count this token's requests under."""
        return f"token:{self.token_id}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _digest(secret: str) -> str:
    # A plain SHA-256 is enough: the secret holds 256 random bits, so unlike a password it cannot
    # be guessed from its digest, and a slow hash (argon2) would cost ~50 ms on every API request.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _prefix(secret: str) -> str:
    return secret[: len(SECRET_PREFIX) + PREFIX_CHARS]


def create_token(
    db: Database,
    user: User,
    *,
    scope: str = "read",
    name: str = "",
    expires_days: int | None = None,
) -> CreatedToken:
    """Create a personal token for the member; the returned secret is the only copy."""
    check_confirmed(user)
    if scope not in SCOPES:
        raise InvalidInput("scope must be read or write")
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise InvalidInput(f"the token name has {len(name)} characters; the limit is {NAME_MAX}")
    if expires_days is not None and not 1 <= expires_days <= EXPIRES_DAYS_MAX:
        raise InvalidInput(f"expiry must be between 1 and {EXPIRES_DAYS_MAX} days (or none)")
    now = _now().replace(microsecond=0)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)  # 32 bytes: 43 URL-safe characters
    expires_at = now + timedelta(days=expires_days) if expires_days is not None else None
    with db.write() as conn:
        if token_store.count_live(conn, user.id, now) >= TOKENS_MAX:
            raise InvalidInput(f"you have {TOKENS_MAX} tokens, the limit: revoke one first")
        info = token_store.insert(
            conn,
            user.id,
            name=name or f"token {now:%Y-%m-%d %H:%M}",
            scope=scope,
            token_hash=_digest(secret),
            prefix=_prefix(secret),
            now=now,
            expires_at=expires_at,
        )
    return CreatedToken(secret, info)


def authenticate(db: Database, secret: str) -> Principal:
    """The member and scope a bearer secret stands for; Unauthorized when unknown, revoked or expired."""
    secret = secret.strip()
    if not _SHAPE.fullmatch(secret):
        raise Unauthorized("unknown token: send a paperfeed token (pf_ and 43 characters)")
    digest = _digest(secret)
    with db.read() as conn:
        candidates = token_store.by_prefix(conn, _prefix(secret))
    # Found by the public prefix, then compared in constant time, so response times tell an
    # attacker nothing about how much of a guessed secret matched.
    found = None
    for c in candidates:
        if hmac.compare_digest(c.token_hash, digest):
            found = c
    if found is None:
        raise Unauthorized("unknown token: check it or create a new one on the settings page")
    now = _now()
    if found.revoked_at is not None:
        raise Unauthorized("this token was revoked: create a new one on the settings page")
    if found.info.expires_at is not None and found.info.expires_at <= now:
        raise Unauthorized(
            f"this token expired on {found.info.expires_at:%Y-%m-%d %H:%M} UTC: create a new one"
        )
    last = found.info.last_used_at
    if last is None or last < now - TOUCH_EVERY:
        with db.write() as conn:
            token_store.touch(conn, found.info.id, now, older_than=now - TOUCH_EVERY)
    return Principal(found.user, found.info.id, found.info.scope)


def require_scope(principal: Principal, needed: str) -> None:
    """Refuse (PermissionDenied) a request the token's scope does not cover: a read token's write."""
    if needed not in SCOPES:
        raise ValueError(f"unknown scope {needed!r}")
    if needed == "write" and principal.scope != "write":
        raise PermissionDenied(
            "this token is read-only: create a token with the write scope to make changes"
        )


def list_tokens(db: Database, user: User) -> list[TokenInfo]:
    """The member's live (unrevoked, unexpired) tokens, newest first."""
    with db.read() as conn:
        return token_store.list_live(conn, user.id, _now())


def revoke_token(db: Database, user: User, token_id: int) -> None:
    """Revoke one of the member's tokens at once; NotFound when it is not theirs or already revoked."""
    with db.write() as conn:
        if not token_store.revoke(conn, user.id, token_id, _now()):
            raise NotFound(f"you have no live token {token_id}")

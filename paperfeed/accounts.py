"""Accounts: what a person does with their account, from sign-up to deletion, outside the web."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, PermissionDenied
from paperfeed.models import User
from paperfeed.store import Database
from paperfeed.store import sessions as session_store
from paperfeed.store import users as user_store

PASSWORD_MIN = 12
PASSWORD_MAX = 1024  # argon2 hashes anything, but a 1 MB "password" is only a CPU-burning attack
# A password-less account proves who is at the keyboard by a sign-in this recent (GitHub's
# "sudo mode" asks again after a few hours; an address change is rarer and worth more).
RECENT_SIGN_IN = timedelta(minutes=10)
LINK_KINDS = ("verify", "email", "login")

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()
_dummy_hash: str | None = None


class LinkExpired(InvalidInput):
    """An emailed link that was already used, has expired or never existed."""


@dataclass(frozen=True, slots=True)
class Mail:
    """A plain-text account email to send."""

    to: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class Proven:
    """The result of opening an emailed link: the account, the link's kind and a new session."""

    user: User
    kind: str
    session: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


# --- passwords -------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An argon2id hash of a password that passed check_password."""
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when the password matches; unknown users cost the same time via a dummy hash."""
    global _dummy_hash
    if len(password) > PASSWORD_MAX:
        return False
    if stored is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_hex(16))
        try:  # pay the same hashing cost as a real check, so timing reveals no account
            _hasher.verify(_dummy_hash, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(password: str) -> None:
    """Raise InvalidInput unless the password is 12 to 1024 characters long."""
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"passwords need at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(f"passwords may have at most {PASSWORD_MAX} characters")


def check_identity(
    user: User, password: str, signed_in_at: datetime | None, *, now: datetime | None = None
) -> None:
    """Raise PermissionDenied unless the person knows the password (or, without one, just signed in)."""
    if user.password_hash:
        if not verify_password(user.password_hash, password):
            raise InvalidInput("the current password is wrong")
        return
    now = now or _now()
    if signed_in_at is None or now - signed_in_at > RECENT_SIGN_IN:
        minutes = int(RECENT_SIGN_IN.total_seconds() // 60)
        raise PermissionDenied(
            f"this account has no password, so this needs a sign-in within the last {minutes} "
            "minutes: sign out, sign in again with an emailed link, and retry"
        )


# --- sign-up, sign-in and emailed links ------------------------------------------------------


def sign_up(db: Database, settings: Settings, email: str, display_name: str) -> Mail:
    """Start an account for an address and return the mail that proves it (no password, no session)."""
    # A known, verified address gets a sign-in link instead, so the page never tells whether an
    # account exists; the password is chosen only on the page the mailed link opens.
    with db.write() as conn:
        existing = user_store.get_by_email(conn, email)
        if existing is None:
            user = user_store.create_user(conn, email, display_name)
        else:
            user = existing
        if user.verified:
            token = session_store.create_token(
                conn, user.id, "login", minutes=settings.magic_link_minutes
            )
        else:
            token = session_store.create_token(
                conn, user.id, "verify", minutes=settings.verify_link_hours * 60
            )
    if not user.verified:
        return Mail(
            user.email,
            f"Confirm your {settings.site_name} account",
            f"Hello {user.display_name},\n\nConfirm your address by opening this link; on the "
            "page you can choose a password (or keep signing in with emailed links) and sign "
            f"in:\n\n{_base(settings)}/verify?token={token}\n\n"
            f"The link works once within {settings.verify_link_hours} hours. If you did not sign "
            "up, ignore this email: without the link nobody can use the account.\n",
        )
    return Mail(
        user.email,
        f"Your {settings.site_name} account",
        "Someone (hopefully you) tried to sign up with this address, which already has an "
        "account. To sign in, open this link and press the button on the page:\n\n"
        f"{_base(settings)}/login/magic?token={token}\n\n"
        f"The link works once within {settings.magic_link_minutes} minutes.\n",
    )


def sign_in_link(db: Database, settings: Settings, email: str) -> Mail | None:
    """The sign-in link mail for an address with an account, or None when there is none."""
    with db.write() as conn:
        user = user_store.get_by_email(conn, email)
        if user is None:
            return None
        token = session_store.create_token(
            conn, user.id, "login", minutes=settings.magic_link_minutes
        )
    return Mail(
        user.email,
        f"Sign in to {settings.site_name}",
        "Open this link and press the button on the page to sign in:\n\n"
        f"{_base(settings)}/login/magic?token={token}\n\n"
        f"The link works once within {settings.magic_link_minutes} minutes. If you did not "
        "ask for it, ignore this email.\n",
    )


def sign_in(db: Database, settings: Settings, email: str, password: str) -> str | None:
    """A new session for a verified account whose password matches, else None (same cost)."""
    with db.read() as conn:
        user = user_store.get_by_email(conn, email) if email else None
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.verified:
        return None
    with db.write() as conn:
        return session_store.create_session(conn, user.id, days=settings.session_days)


def link_user(db: Database, token: str, kinds: Sequence[str]) -> tuple[User, str] | None:
    """The account and kind of a live emailed link without using it up (for the page it opens)."""
    if not token or len(token) >= 200:
        return None
    with db.read() as conn:
        for kind in kinds:
            got = session_store.peek_token(conn, token, kind)
            if got is not None:
                return got[0], kind
    return None


def open_link(
    db: Database,
    settings: Settings,
    token: str,
    kinds: Sequence[str],
    *,
    password: str = "",
    display_name: str = "",
) -> Proven:
    """Use an emailed link with the password and name typed on its page, ending all other access."""
    # Opening the link proves control of the mailbox, not that the opener chose anything before:
    # so the password is taken here (never at sign-up) and every other session and link ends.
    if password:
        check_password(password)
    pw_hash = hash_password(password) if password else None  # hashed outside the write lock
    got: tuple[User, str | None] | None = None
    kind = ""
    with db.write() as conn:
        for kind in kinds:
            if kind not in LINK_KINDS:
                raise ValueError(f"unknown link kind {kind!r}")
            got = session_store.consume_token(conn, token, kind) if len(token) < 200 else None
            if got is not None:
                break
        if got is None:
            raise LinkExpired(
                "this link was already used or has expired: ask for a new one on the sign-in page"
            )
        user, data = got
        if kind == "email" and data:
            user_store.set_email(conn, user.id, data)
        else:
            user_store.mark_verified(conn, user.id)
        if pw_hash is not None or not user.verified:
            # A first proof also drops any password set before it (by a pre-registering stranger).
            user_store.set_password_hash(conn, user.id, pw_hash)
        if display_name:
            user_store.update_profile(conn, user.id, display_name=display_name)
        # Whoever held a session or an unused link before (a pre-registering stranger, a stolen
        # cookie, a pending address change) loses it now.
        session_store.delete_user_sessions(conn, user.id)
        session_store.revoke_tokens(conn, user.id)
        session = session_store.create_session(conn, user.id, days=settings.session_days)
        fresh = user_store.get_user(conn, user.id)
    assert fresh is not None
    return Proven(fresh, kind, session)


# --- changes that need the person, not only their cookie --------------------------------------


def request_email_change(
    db: Database,
    settings: Settings,
    user: User,
    new_email: str,
    *,
    password: str,
    signed_in_at: datetime | None,
) -> list[Mail]:
    """Ask to move an account to a checked address: the mails of a link to it and a notice to the old."""
    # Nothing changes until the link is opened. A taken address gets no mail (the page looks the
    # same); the old address is told, so its owner can stop a change they did not ask for.
    check_identity(user, password, signed_in_at)
    if user_store.email_key(new_email) == user_store.email_key(user.email):
        raise InvalidInput("that is already your address")
    with db.write() as conn:
        taken = user_store.get_by_email(conn, new_email) is not None
        token = session_store.create_token(
            conn, user.id, "email", minutes=settings.verify_link_hours * 60, data=new_email
        )
    if taken:
        return []
    return [
        Mail(
            new_email,
            f"Confirm your new {settings.site_name} address",
            "Open this link and press the button to use this address for your account:"
            f"\n\n{_base(settings)}/verify?kind=email&token={token}\n\n"
            f"The link works once within {settings.verify_link_hours} hours. If you did not ask "
            "for this, ignore this email.\n",
        ),
        Mail(
            user.email,
            f"Your {settings.site_name} address is about to change",
            f"Someone signed in to your account asked to change its address to {new_email}. "
            "It changes only when the link sent there is opened.\n\nIf this was not you, sign "
            f"in with a link from {_base(settings)}/login now: that cancels the change and signs "
            "out every other session. Then change your password.\n",
        ),
    ]


def change_password(
    db: Database,
    user: User,
    *,
    current: str,
    new: str,
    signed_in_at: datetime | None,
    keep_session: str | None,
) -> None:
    """Set a new password after checking who asks; every other session ends."""
    check_identity(user, current, signed_in_at)
    check_password(new)
    pw_hash = hash_password(new)
    with db.write() as conn:
        user_store.set_password_hash(conn, user.id, pw_hash)
        session_store.delete_user_sessions(conn, user.id, keep=keep_session)


def delete_account(
    db: Database, user: User, *, password: str, signed_in_at: datetime | None
) -> None:
    """Delete an account and all it acts or receives mail with, after checking who asks."""
    check_identity(user, password, signed_in_at)
    with db.write() as conn:
        user_store.delete_user(conn, user.id)

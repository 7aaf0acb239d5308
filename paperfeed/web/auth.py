"""Accounts plumbing: argon2id passwords, session and CSRF cookies, bounded form parsing, mail."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from starlette.responses import RedirectResponse, Response

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, PaperfeedError, PermissionDenied
from paperfeed.models import User
from paperfeed.store import Database
from paperfeed.store import sessions as session_store
from paperfeed.web.context import db_of, path_for, settings_of

log = logging.getLogger(__name__)

SESSION_COOKIE = "pf_session"
CSRF_COOKIE = "pf_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
PASSWORD_MIN = 12
PASSWORD_MAX = 1024  # argon2 hashes anything, but a 1 MB "password" is only a CPU-burning attack
EMAIL_MAX = 254  # RFC 5321 path limit

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()
_dummy_hash: str | None = None


class CsrfError(PermissionDenied):
    """A form arrived without the CSRF token this browser was given."""


class BodyTooLarge(PaperfeedError):
    """A request body is larger than max_form_bytes."""


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


def check_email(email: str) -> str:
    """A stripped address that looks like local@domain, or InvalidInput."""
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(email) > EMAIL_MAX
        or any(c.isspace() or c in "<>,;\"'()[]\\" for c in email)
    ):
        raise InvalidInput("enter an email address such as ada@example.org")
    return email


def secret_key(settings: Settings) -> bytes:
    """The instance secret: the setting, else a random key kept in the data folder (made once)."""
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = Path(settings.derived_dir) / "secret_key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _secret(request: Request) -> bytes:
    key = getattr(request.app.state, "pf_secret", None)
    if key is None:
        key = request.app.state.pf_secret = secret_key(settings_of(request))
    return key  # type: ignore[no-any-return]


def cookie_secure(settings: Settings) -> bool:
    """Cookies get the Secure flag whenever the public URL is https."""
    return settings.base_url.lower().startswith("https://")


def client_ip(request: Request) -> str:
    """The peer address (a reverse proxy should be configured to pass the real one)."""
    return request.client.host if request.client else "unknown"


def current_user(request: Request) -> User | None:
    """The signed-in user of this request, looked up once per request."""
    state = request.state
    if hasattr(state, "pf_user"):
        return state.pf_user  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token and len(token) < 200:
        with db_of(request).read() as conn:
            user = session_store.session_user(conn, token)
    state.pf_user = user
    return user


def csrf_token(request: Request) -> str:
    """This browser's CSRF token: an HMAC of its CSRF cookie nonce and its session cookie."""
    session = getattr(request.state, "pf_session_new", None)
    if session is None:
        session = request.cookies.get(SESSION_COOKIE, "")
    cached = getattr(request.state, "pf_csrf_token", None)
    if cached is not None and cached[0] == session:
        return cached[1]  # type: ignore[no-any-return]  # every card's form asks for it
    nonce = getattr(request.state, "pf_csrf_new", None) or request.cookies.get(CSRF_COOKIE)
    if not nonce or len(nonce) > 100:
        nonce = request.state.pf_csrf_new = secrets.token_urlsafe(24)
    msg = f"{nonce}|{hashlib.sha256(session.encode()).hexdigest()}".encode()
    token = hmac.new(_secret(request), msg, hashlib.sha256).hexdigest()
    request.state.pf_csrf_token = (session, token)
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """Raise CsrfError unless the submitted token is this browser's token."""
    if not request.cookies.get(CSRF_COOKIE):
        raise CsrfError(
            "this form has expired or cookies are off: reload the page, enable cookies and retry"
        )
    expected = csrf_token(request)
    if not submitted or not hmac.compare_digest(expected, submitted):
        raise CsrfError("this form has expired or was not sent from this site: reload and retry")


async def read_form(request: Request) -> dict[str, str]:
    """Read an urlencoded form body of at most max_form_bytes (413 beyond) into a dict."""
    limit = settings_of(request).max_form_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(_too_large(limit))
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", ""):
        raise InvalidInput("send the form as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge(_too_large(limit))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the form is not valid UTF-8") from None
    form: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, max_num_fields=50):
        # NUL and other C0 controls never belong in form text (and PostgreSQL rejects NUL).
        form.setdefault(key, "".join(c for c in value if c >= " " or c in "\n\r\t"))
    return form


def _too_large(limit: int) -> str:
    return (
        f"the form is larger than {limit // 1024} KiB: comments are limited to "
        "10,000 characters, so shorten the text and send it again"
    )


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    """Attach the session cookie: HttpOnly, SameSite=Lax, Secure on https sites."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86_400,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings),
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=cookie_secure(settings), path="/"
    )


def set_csrf_cookie(response: Response, settings: Settings, nonce: str) -> None:
    """Attach the CSRF nonce cookie (HttpOnly: pages carry the derived token, not the nonce)."""
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        max_age=365 * 86_400,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings),
        path="/",
    )


def send_mail(settings: Settings, db: Database, to: str, subject: str, body: str) -> None:
    """Queue a plain-text account email; a background sender delivers it off the request path.

    Queueing costs the same for every address, so the answer's timing does not tell whether an
    account exists (sending inline took 1.5 s more for known addresses on a slow server).
    """
    from paperfeed.digest.postbox import post
    from paperfeed.digest.render import text_message

    post(settings, db, text_message(settings, to, subject, body))


def login_redirect(request: Request) -> Response:
    """Send a visitor to sign in, then back to this page."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        f"{path_for(request, 'login_page')}?next={quote(target)}", status_code=303
    )

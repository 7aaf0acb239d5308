"""Accounts plumbing for the web: session and CSRF cookies, the Origin check, bounded forms, mail."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, quote

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from paperfeed.accounts import (  # noqa: F401  (re-exported: the CLI and tests hash through here)
    PASSWORD_MAX,
    PASSWORD_MIN,
    check_password,
    hash_password,
    verify_password,
)
from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, PermissionDenied
from paperfeed.models import User
from paperfeed.service import tokens
from paperfeed.store import Database
from paperfeed.store import sessions as session_store
from paperfeed.web.context import db_of, path_for, settings_of
from paperfeed.web.limits import BodyTooLarge as BodyTooLarge  # uploads raise it too (library)

log = logging.getLogger(__name__)

SESSION_COOKIE = "pf_session"
CSRF_COOKIE = "pf_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
EMAIL_MAX = 254  # RFC 5321 path limit
FORM_FIELDS_MAX = 50  # the longest form here (digest settings) has about 20 fields

# Route names a state-changing request may reach with another site's Origin (or none): the
# RFC 8058 one-click unsubscribe, which mail clients POST from their own origin. The JSON API's
# writes are checked like pages for cookies; bearer requests carry no ambient credential.
ORIGIN_EXEMPT = frozenset({"unsubscribe"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfError(PermissionDenied):
    """A form arrived without the CSRF token this browser was given."""


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


def bearer_secret(request: Request) -> str | None:
    """The secret of an API request's `Authorization: Bearer` header, or None without one."""
    if not request.url.path.startswith("/api/"):
        return None  # pages are for browsers: only the API takes tokens
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    secret = value.strip()
    # huggingface_hub sends a configured Hub token (hf_...) to any endpoint: ignore it on reads so
    # HfApi(endpoint=paperfeed) keeps working; a write, or any pf_ token, must be a valid token.
    if not secret.startswith(tokens.SECRET_PREFIX) and request.method not in UNSAFE_METHODS:
        return None
    return secret


def current_principal(request: Request) -> tokens.Principal | None:
    """The token an API request acts through (Unauthorized if it is bad), or None for cookies."""
    state = request.state
    if hasattr(state, "pf_principal"):
        return state.pf_principal  # type: ignore[no-any-return]
    secret = bearer_secret(request)
    principal = tokens.authenticate(db_of(request), secret) if secret is not None else None
    state.pf_principal = principal
    return principal


async def check_bearer(request: Request) -> None:
    """Refuse (401) an API request with an unknown, revoked or expired token (an app-wide dependency)."""
    current_principal(request)


def current_user(request: Request) -> User | None:
    """The acting member of this request (a bearer token's, else the session's), looked up once."""
    state = request.state
    if hasattr(state, "pf_user"):
        return state.pf_user  # type: ignore[no-any-return]
    principal = current_principal(request)
    token = request.cookies.get(SESSION_COOKIE)
    user = principal.user if principal is not None else None
    if principal is None and token and len(token) < 200:
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
    """Raise CsrfError unless the submitted token is this browser's token (bearer requests need none)."""
    if current_principal(request) is not None:
        return  # another site cannot make a browser send an Authorization header
    if not request.cookies.get(CSRF_COOKIE):
        raise CsrfError(
            "this form has expired or cookies are off: reload the page, enable cookies and retry"
        )
    expected = csrf_token(request)
    if not submitted or not hmac.compare_digest(expected, submitted):
        raise CsrfError("this form has expired or was not sent from this site: reload and retry")


async def read_form_pairs(request: Request) -> list[tuple[str, str]]:
    """Every (name, value) of an urlencoded form of at most FORM_FIELDS_MAX fields, or InvalidInput."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", ""):
        raise InvalidInput("send the form as application/x-www-form-urlencoded")
    body = await request.body()  # BodyLimit (web.limits) answered 413 past max_form_bytes
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=FORM_FIELDS_MAX)
    except UnicodeDecodeError:
        raise InvalidInput("the form is not valid UTF-8") from None
    except ValueError:  # parse_qsl's "Max number of fields exceeded"
        raise InvalidInput(
            f"the form has more than {FORM_FIELDS_MAX} fields: send only the page's own form"
        ) from None
    # NUL and other C0 controls never belong in form text (and PostgreSQL rejects NUL).
    return [(k, "".join(c for c in v if c >= " " or c in "\n\r\t")) for k, v in pairs]


async def read_form(request: Request) -> dict[str, str]:
    """A bounded urlencoded form as a dict, keeping the first value of each name."""
    form: dict[str, str] = {}
    for key, value in await read_form_pairs(request):
        form.setdefault(key, value)
    return form


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme.lower()}://{rest.split('/', 1)[0].lower()}"


async def check_origin(request: Request) -> None:
    """Refuse a state-changing request whose Origin names another site (an app-wide dependency)."""
    # Defence in depth beside the CSRF token: browsers send Origin on every cross-site POST, so a
    # forged form fails here even where a handler forgot its token check. No Origin header (older
    # browsers, non-browser clients) leaves the decision to the CSRF token as before.
    if request.method not in UNSAFE_METHODS or bearer_secret(request) is not None:
        return
    origin = request.headers.get("origin")
    if not origin:
        return
    if getattr(request.scope.get("route"), "name", None) in ORIGIN_EXEMPT:
        return
    allowed = {_origin_of(str(request.base_url)), _origin_of(settings_of(request).base_url)}
    if _origin_of(origin) not in allowed:
        raise CsrfError("this form was sent from another site: reload the page and retry")


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

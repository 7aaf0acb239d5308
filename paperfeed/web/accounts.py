"""Account pages: sign-up, confirmation and sign-in links, sign-in, sign-out, settings."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed import accounts
from paperfeed.errors import InvalidInput, NotFound, PermissionDenied
from paperfeed.models import User
from paperfeed.service import tokens
from paperfeed.store import sessions as session_store
from paperfeed.store import users as user_store
from paperfeed.web import auth, forms
from paperfeed.web.context import db_of, path_for, settings_of
from paperfeed.web.ratelimit import limiter_for

DISPLAY_NAME_MAX = 100
URL_FIELD_MAX = 300
LOGIN_WINDOW = 15 * 60.0
MAIL_WINDOW = 3600.0


def _limit_mail(request: Request, email: str) -> None:
    settings = settings_of(request)
    lim = limiter_for(request.app)
    lim.check(
        "mail-addr",
        [user_store.email_key(email)],
        limit=settings.mail_rate_limit,
        window=MAIL_WINDOW,
        what="emails to this address",
    )
    lim.check(
        "mail-ip",
        [auth.client_ip(request)],
        limit=settings.mail_rate_limit * 4,
        window=MAIL_WINDOW,
        what="email requests from your network",
    )


def _clean_line(value: str, field: str, limit: int) -> str:
    value = " ".join(value.split())
    if len(value) > limit:
        raise InvalidInput(f"{field} may have at most {limit} characters")
    return value


def _check_profile_url(value: str, field: str, hosts: tuple[str, ...]) -> str:
    value = value.strip()
    if not value:
        return ""
    if len(value) > URL_FIELD_MAX or not auth_safe_url(value):
        raise InvalidInput(
            f"{field} must be an https:// link of at most {URL_FIELD_MAX} characters"
        )
    host = value.split("://", 1)[1].split("/", 1)[0].lower()
    if host not in hosts:
        raise InvalidInput(f"{field} must be a link to {' or '.join(hosts)}")
    return value


def auth_safe_url(value: str) -> bool:
    """True for an https URL without spaces or markup characters."""
    return bool(re.fullmatch(r"https://[^\s<>\"'`]+", value))


def signup_page(request: Request) -> Response:
    """The sign-up form: an address and a display name (the password comes with the link)."""
    return forms.form_page(request, "account_signup.html", {"form": {}})


async def signup(request: Request) -> Response:
    """Start an account (or mail the owner of a known address) and send the confirmation link."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_signup, request, form)


def _signup(request: Request, form: dict[str, str]) -> Response:
    settings, db = settings_of(request), db_of(request)
    try:
        email = auth.check_email(form.get("email", ""))
        name = _clean_line(form.get("display_name", ""), "display name", DISPLAY_NAME_MAX)
        if not name:
            raise InvalidInput("enter a display name (it is shown next to your comments)")
        if form.get("password"):
            # Only the person who reads the mailbox may choose it, on the page the link opens.
            raise InvalidInput(
                "choose your password on the page the confirmation link opens, not here"
            )
    except InvalidInput as exc:
        ctx = {"form": {"email": form.get("email", ""), "display_name": form.get("display_name")}}
        return forms.form_page(
            request, "account_signup.html", {**ctx, "error": str(exc)}, status=400
        )
    _limit_mail(request, email)
    _send(request, accounts.sign_up(db, settings, email, name))
    return forms.form_page(request, "account_sent.html", {"email": email, "kind": "signup"})


def _send(request: Request, *mails: accounts.Mail) -> None:
    settings, db = settings_of(request), db_of(request)
    for mail in mails:
        auth.send_mail(settings, db, mail.to, mail.subject, mail.body)


def _token_page(
    request: Request, kinds: tuple[str, ...], action: str, token: str, error: str | None = None
) -> Response:
    got = accounts.link_user(db_of(request), token, kinds)
    user, kind = got if got is not None else (None, kinds[0])
    return forms.form_page(
        request,
        "account_confirm.html",
        {
            "token": token,
            "valid": got is not None,
            "kind": kind,
            "action": action,
            "link_user": user,
            "error": error,
        },
        status=400 if got is None or error else 200,
    )


def verify_page(request: Request) -> Response:
    """The page of an emailed verification link: choose a password, then confirm (GET uses nothing)."""
    kinds = ("email",) if request.query_params.get("kind") == "email" else ("verify",)
    return _token_page(
        request, kinds, path_for(request, "verify"), request.query_params.get("token", "")
    )


def magic_page(request: Request) -> Response:
    """A sign-in button for an emailed sign-in link (mail scanners' GETs cannot burn it)."""
    token = request.query_params.get("token", "")
    return _token_page(request, ("login",), path_for(request, "login_magic"), token)


async def verify(request: Request) -> Response:
    """Use a verification (or email-change) link: confirm the address and sign in."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_consume, request, form, ("verify", "email"))


async def magic(request: Request) -> Response:
    """Use a sign-in link and sign in."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_consume, request, form, ("login",))


def _consume(request: Request, form: dict[str, str], kinds: tuple[str, ...]) -> Response:
    settings = settings_of(request)
    token = form.get("token", "")
    try:
        name = _clean_line(form.get("display_name", ""), "display name", DISPLAY_NAME_MAX)
        proven = accounts.open_link(
            db_of(request),
            settings,
            token,
            kinds,
            password=form.get("password", ""),
            display_name=name,
        )
    except accounts.LinkExpired:
        raise
    except InvalidInput as exc:  # a bad password leaves the link unused: its page, with why
        return _token_page(request, kinds, request.url.path, token, str(exc))
    notice = {"login": "signed-in", "email": "email-changed"}.get(proven.kind, "verified")
    response = forms.redirect("/", notice)
    auth.set_session_cookie(response, settings, proven.session)
    return response


def login_page(request: Request) -> Response:
    """The sign-in form: password, or a link by email."""
    return forms.form_page(
        request, "account_login.html", {"next": forms.safe_next(request.query_params.get("next"))}
    )


async def login(request: Request) -> Response:
    """Sign in with email and password; unknown addresses and wrong passwords look the same."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: dict[str, str]) -> Response:
    settings, db = settings_of(request), db_of(request)
    email = form.get("email", "").strip()[: auth.EMAIL_MAX]
    limiter_for(request.app).check(
        "login",
        [f"ip:{auth.client_ip(request)}", f"email:{user_store.email_key(email)}"],
        limit=settings.login_rate_limit,
        window=LOGIN_WINDOW,
        what="sign-in attempts",
    )
    token = accounts.sign_in(db, settings, email, form.get("password", ""))
    if token is None:
        return forms.form_page(
            request,
            "account_login.html",
            {"error": "Wrong email or password.", "email": email, "next": form.get("next")},
            status=400,
        )
    response = forms.redirect(forms.safe_next(form.get("next")), "signed-in")
    auth.set_session_cookie(response, settings, token)
    return response


async def login_link(request: Request) -> Response:
    """Email a single-use sign-in link; the answer is the same whether the address is known."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_login_link, request, form)


def _login_link(request: Request, form: dict[str, str]) -> Response:
    settings, db = settings_of(request), db_of(request)
    try:
        email = auth.check_email(form.get("email", ""))
    except InvalidInput as exc:
        return forms.form_page(request, "account_login.html", {"error": str(exc)}, status=400)
    _limit_mail(request, email)
    mail = accounts.sign_in_link(db, settings, email)
    if mail is not None:
        _send(request, mail)
    return forms.form_page(request, "account_sent.html", {"email": email, "kind": "login"})


async def logout(request: Request) -> Response:
    """End the session on the server and drop the cookie."""
    await forms.post_form(request)
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        with db_of(request).write() as conn:
            session_store.delete_session(conn, token)
    response = forms.redirect("/", "signed-out")
    auth.clear_session_cookie(response, settings_of(request))
    return response


# --- settings ---------------------------------------------------------------------------------


def settings_page(request: Request) -> Response:
    """The account settings page."""
    user = auth.current_user(request)
    if user is None:
        return forms.redirect(f"/login?next={quote('/settings')}")
    return forms.form_page(request, "account_settings.html", _settings_context(request, user))


def _settings_context(request: Request, user: User, **extra: object) -> dict[str, object]:
    # Every rendering of the page (again with an error, or with a new token's secret) lists the
    # member's live tokens, so the tokens section is never missing or stale.
    return {"user": user, "api_tokens": tokens.list_tokens(db_of(request), user), **extra}


def _token_post(request: Request, user: User, form: dict[str, str]) -> Response:
    """Create a personal token (answering with its secret, shown this once) or revoke one."""
    db = db_of(request)
    if form.get("action") == "token-revoke":
        try:
            token_id = int(form.get("token_id", ""))
        except ValueError:
            raise InvalidInput("token_id must be a number") from None
        tokens.revoke_token(db, user, token_id)
        return forms.redirect("/settings", "token-revoked")
    days = form.get("expires_days", "").strip()
    if days and not days.isdigit():
        raise InvalidInput("expiry must be a whole number of days, or empty for none")
    created = tokens.create_token(
        db,
        user,
        scope=form.get("scope", "read"),
        name=form.get("name", ""),
        expires_days=int(days) if days else None,
    )
    # The secret is rendered on this response only (never stored, never in a redirect URL).
    page = forms.form_page(
        request, "account_settings.html", _settings_context(request, user, new_token=created)
    )
    page.headers["Cache-Control"] = "no-store"
    return page


async def settings_post(request: Request) -> Response:
    """Save one settings section: profile, email, password, or delete the account."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_settings_post, request, form)


def _settings_post(request: Request, form: dict[str, str]) -> Response:
    settings, db = settings_of(request), db_of(request)
    user = forms.require_user(request, verified=False)
    action = form.get("action", "")
    try:
        if action in ("token-create", "token-revoke"):
            return _token_post(request, user, form)
        if action == "profile":
            name = _clean_line(form.get("display_name", ""), "display name", DISPLAY_NAME_MAX)
            if not name:
                raise InvalidInput("the display name cannot be empty")
            github = _check_profile_url(
                form.get("github_url", ""), "GitHub URL", ("github.com", "www.github.com")
            )
            orcid = _check_profile_url(
                form.get("orcid_url", ""), "ORCID URL", ("orcid.org", "www.orcid.org")
            )
            with db.write() as conn:
                user_store.update_profile(
                    conn, user.id, display_name=name, github_url=github, orcid_url=orcid
                )
            return forms.redirect("/settings", "saved")
        cookie = request.cookies.get(auth.SESSION_COOKIE) or ""
        with db.read() as conn:
            signed_in_at = session_store.session_started(conn, cookie)
        if action == "password":
            accounts.change_password(
                db,
                user,
                current=form.get("current_password", ""),
                new=form.get("new_password", ""),
                signed_in_at=signed_in_at,
                keep_session=cookie,
            )
            return forms.redirect("/settings", "password")
        if action == "email":
            email = auth.check_email(form.get("email", ""))
            _limit_mail(request, email)
            _send(
                request,
                *accounts.request_email_change(
                    db,
                    settings,
                    user,
                    email,
                    password=form.get("current_password", ""),
                    signed_in_at=signed_in_at,
                ),
            )
            return forms.redirect("/settings", "email-sent")
        if action == "delete":
            if form.get("confirm", "").strip().lower() != "delete":
                raise InvalidInput('type "delete" in the box to confirm deleting your account')
            accounts.delete_account(
                db, user, password=form.get("current_password", ""), signed_in_at=signed_in_at
            )
            response = forms.redirect("/", "deleted")
            auth.clear_session_cookie(response, settings)
            return response
    except PermissionDenied as exc:  # a stale password-less sign-in: the page says what to do
        return forms.form_page(
            request,
            "account_settings.html",
            _settings_context(request, user, error=str(exc)),
            status=403,
        )
    except NotFound as exc:  # a token that is not the member's, or already revoked
        return forms.form_page(
            request,
            "account_settings.html",
            _settings_context(request, user, error=str(exc)),
            status=404,
        )
    except InvalidInput as exc:
        return forms.form_page(
            request,
            "account_settings.html",
            _settings_context(request, user, error=str(exc)),
            status=400,
        )
    raise InvalidInput("unknown settings action")

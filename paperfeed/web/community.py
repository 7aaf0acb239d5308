"""Community pages: sign-up, sign-in, settings, submissions, votes, comments and curation."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed import accounts
from paperfeed.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
)
from paperfeed.models import Comment, User
from paperfeed.service import comments, curation, submissions, votes
from paperfeed.store import comments as comment_store
from paperfeed.store import sessions as session_store
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store
from paperfeed.web import auth, forms
from paperfeed.web.api import iso
from paperfeed.web.context import (
    cards_to_fetch,
    db_of,
    error_response,
    path_for,
    settings_of,
    templates,
)
from paperfeed.web.ratelimit import limiter_for

DISPLAY_NAME_MAX = 100
URL_FIELD_MAX = 300
LOGIN_WINDOW = 15 * 60.0
MAIL_WINDOW = 3600.0


# --- helpers ---------------------------------------------------------------------------------


def _url(request: Request, name: str, **params: Any) -> str:
    return path_for(request, name, **params)


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


_LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def linkify(text: str) -> Markup:
    """Plain text as HTML: everything escaped, http(s) URLs turned into nofollow links."""
    out: list[str] = []
    pos = 0
    for m in _LINK.finditer(text):
        url = m.group(0)
        cut = len(url)
        while cut and url[cut - 1] in _TRAILING:
            cut -= 1
        url = url[:cut]
        if len(url) <= len("https://"):
            continue
        out.append(html.escape(text[pos : m.start()]))
        esc = html.escape(url, quote=True)
        out.append(f'<a href="{esc}" rel="nofollow ugc noopener">{esc}</a>')
        pos = m.start() + cut
    out.append(html.escape(text[pos:]))
    return Markup("".join(out).replace("\n", "<br>\n"))


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


# --- template globals ------------------------------------------------------------------------


def _template_globals(request: Request) -> dict[str, Any]:
    def has_voted(paper_id: str) -> bool:
        user = auth.current_user(request)
        if user is None:
            return False
        cache: dict[str, bool] = request.state.__dict__.setdefault("pf_voted", {})
        if paper_id not in cache:
            wanted = cards_to_fetch(request, cache, paper_id)
            with db_of(request).read() as conn:
                got = vote_store.voted(conn, user.id, wanted)
            cache.update((i, i in got) for i in wanted)
        return cache[paper_id]

    def comments_for(paper_id: str) -> list[Comment]:
        with db_of(request).read() as conn:
            return comment_store.list_comments(conn, paper_id)

    return {
        "current_user": lambda: auth.current_user(request),
        "csrf_token": lambda: auth.csrf_token(request),
        "has_voted": has_voted,
        "comments_for": comments_for,
        "notice": forms.NOTICES.get(request.query_params.get("notice", "")),
        "comment_max_chars": settings_of(request).comment_max_chars,
        "recent_sign_in_minutes": int(accounts.RECENT_SIGN_IN.total_seconds() // 60),
    }


# --- install: globals, error pages, CSRF cookie ----------------------------------------------


def install(app: FastAPI) -> None:
    """Wire community pieces into an app: template globals, error handlers and the CSRF cookie."""
    if _template_globals not in templates.context_processors:
        templates.context_processors.append(_template_globals)
    templates.env.filters["linkify"] = linkify

    def handler(status: int, title: str) -> Callable[[Request, Exception], Any]:
        async def handle(request: Request, exc: Exception) -> Response:
            if forms.accepts_json(request) or request.url.path.startswith("/api/"):
                response: Response = JSONResponse({"error": str(exc)}, status_code=status)
            else:
                response = error_response(request, status, title, str(exc))
            if isinstance(exc, RateLimited):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response

        return handle

    app.add_exception_handler(auth.CsrfError, handler(403, "Form expired"))
    app.add_exception_handler(PermissionDenied, handler(403, "Not allowed"))
    app.add_exception_handler(RateLimited, handler(429, "Too many requests"))
    app.add_exception_handler(auth.BodyTooLarge, handler(413, "Too large"))
    app.add_exception_handler(Conflict, handler(409, "Already done"))
    app.add_exception_handler(InvalidInput, handler(400, "Bad request"))
    app.add_exception_handler(UpstreamError, handler(502, "arXiv did not answer"))

    app.add_middleware(CsrfCookie)


class CsrfCookie:
    """ASGI middleware: sets the CSRF nonce cookie when a page handed out a fresh token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                nonce = state.get("pf_csrf_new")
                if nonce and not state.get("pf_csrf_sent"):
                    holder = Response()
                    auth.set_csrf_cookie(holder, scope["app"].state.settings, nonce)
                    headers = MutableHeaders(scope=message)
                    for key, value in holder.raw_headers:
                        if key == b"set-cookie":
                            headers.append("set-cookie", value.decode("latin-1"))
                    state["pf_csrf_sent"] = True
            await send(message)

        await self.app(scope, receive, send_with_cookie)


# --- sign-up, verification, sign-in, sign-out -------------------------------------------------


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
        request, kinds, _url(request, "verify"), request.query_params.get("token", "")
    )


def magic_page(request: Request) -> Response:
    """A sign-in button for an emailed sign-in link (mail scanners' GETs cannot burn it)."""
    token = request.query_params.get("token", "")
    return _token_page(request, ("login",), _url(request, "login_magic"), token)


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
    return forms.form_page(request, "account_settings.html", {"user": user})


async def settings_post(request: Request) -> Response:
    """Save one settings section: profile, email, password, or delete the account."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_settings_post, request, form)


def _settings_post(request: Request, form: dict[str, str]) -> Response:
    settings, db = settings_of(request), db_of(request)
    user = forms.require_user(request, verified=False)
    action = form.get("action", "")
    try:
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
            request, "account_settings.html", {"user": user, "error": str(exc)}, status=403
        )
    except InvalidInput as exc:
        return forms.form_page(
            request, "account_settings.html", {"user": user, "error": str(exc)}, status=400
        )
    raise InvalidInput("unknown settings action")


# --- submissions ------------------------------------------------------------------------------


def submit_page(request: Request) -> Response:
    """The submission form."""
    if auth.current_user(request) is None:
        return forms.redirect(f"/login?next={quote('/submit')}")
    return forms.form_page(request, "submit.html", {"settings_rules": settings_of(request)})


async def submit(request: Request) -> Response:
    """Submit a paper by arXiv id or URL."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_submit, request, form)


def _submit(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request)
    forms.limit_write(request, user)
    try:
        paper = submissions.submit(
            db_of(request), settings_of(request), user, form.get("paper", "")
        )
    except (InvalidInput, Conflict, NotFound, PermissionDenied, RateLimited) as exc:
        if forms.accepts_json(request):
            raise
        status = {
            InvalidInput: 400,
            Conflict: 409,
            NotFound: 404,
            PermissionDenied: 403,
            RateLimited: 429,
        }[type(exc)]
        return forms.form_page(
            request,
            "submit.html",
            {
                "error": str(exc),
                "value": form.get("paper", ""),
                "settings_rules": settings_of(request),
            },
            status=status,
        )
    if forms.accepts_json(request):
        return JSONResponse({"id": paper.id, "title": paper.title}, status_code=201)
    return forms.redirect(_url(request, "paper", arxiv_id=paper.id), "submitted")


# --- votes ------------------------------------------------------------------------------------


async def vote(request: Request) -> Response:
    """Upvote or remove an upvote (form post; JSON when the script asks for it)."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_vote, request, form)


def _vote(request: Request, form: dict[str, str]) -> Response:
    user = auth.current_user(request)
    pid = form.get("paper_id", "")
    back = forms.safe_next(form.get("next"), "/")
    if user is None:
        if forms.accepts_json(request):
            return JSONResponse({"error": "sign in to vote", "login": "/login"}, status_code=401)
        return forms.redirect(f"/login?next={quote(back)}")
    user = forms.require_user(request)
    forms.limit_write(request, user)
    got = votes.vote(db_of(request), user, pid, form.get("action", "up"))
    if forms.accepts_json(request):
        return JSONResponse({"id": got.paper_id, "upvotes": got.upvotes, "voted": got.voted})
    return forms.redirect(back)


# --- comments ---------------------------------------------------------------------------------


async def comment_add(request: Request) -> Response:
    """Add a comment to a paper."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_comment_add, request, form)


def _comment_add(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request)
    forms.limit_write(request, user)
    c = comments.add(
        db_of(request), settings_of(request), user, form.get("paper_id", ""), form.get("body", "")
    )
    pid = c.paper_id
    if forms.accepts_json(request):
        return JSONResponse(comment_json(c), status_code=201)
    return forms.redirect(
        _url(request, "paper", arxiv_id=pid) + f"?notice=comment-saved#comment-{c.id}"
    )


def _own_comment(request: Request, comment_id: int) -> tuple[User, Comment]:
    user = forms.require_user(request)
    return user, comments.own(db_of(request), user, comment_id)


def comment_edit_page(request: Request, comment_id: int) -> Response:
    """The form to edit one's comment."""
    _, c = _own_comment(request, comment_id)
    return forms.form_page(request, "comment_edit.html", {"comment": c})


async def comment_edit(request: Request, comment_id: int) -> Response:
    """Save an edited comment."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_comment_edit, request, comment_id, form)


def _comment_edit(request: Request, comment_id: int, form: dict[str, str]) -> Response:
    user, c = _own_comment(request, comment_id)
    forms.limit_write(request, user)
    comments.edit(db_of(request), settings_of(request), user, c, form.get("body", ""))
    return forms.redirect(
        _url(request, "paper", arxiv_id=c.paper_id) + f"?notice=comment-saved#comment-{c.id}"
    )


async def comment_delete(request: Request, comment_id: int) -> Response:
    """Delete a comment (author or curator)."""
    await forms.post_form(request)
    return await run_in_threadpool(_comment_delete, request, comment_id)


def _comment_delete(request: Request, comment_id: int) -> Response:
    c = comments.delete(db_of(request), forms.require_user(request), comment_id)
    return forms.redirect(_url(request, "paper", arxiv_id=c.paper_id), "comment-deleted")


def comment_json(c: Comment) -> dict[str, Any]:
    """A comment for the JSON API."""
    return {
        "id": c.id,
        "paperId": c.paper_id,
        "author": {"user": c.author_username, "fullname": c.author_name},
        "text": "" if c.deleted_at else c.body,
        "createdAt": iso(c.created_at),
        "editedAt": iso(c.edited_at),
        "deleted": c.deleted_at is not None,
    }


def api_comments(request: Request, arxiv_id: str) -> JSONResponse:
    """A paper's comments, oldest first."""
    return JSONResponse([comment_json(c) for c in comments.list_for(db_of(request), arxiv_id)])


# --- curation ---------------------------------------------------------------------------------


async def curate(request: Request) -> Response:
    """Curators feature, un-feature, hide or show a paper."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_curate, request, form)


def _curate(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request)
    action = form.get("action", "")
    pid = curation.curate(
        db_of(request), user, form.get("paper_id", ""), action, today=submissions.now_utc().date()
    )
    back = _url(request, "paper", arxiv_id=pid) if action != "hide" else "/"
    return forms.redirect(back, "curated")

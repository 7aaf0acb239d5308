"""Digest pages: subscribe with double opt-in, confirm, one-click unsubscribe, manage, view in browser."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed.config import Settings
from paperfeed.digest.compose import section_names
from paperfeed.digest.render import render_digest
from paperfeed.errors import InvalidInput, NotFound, RateLimited
from paperfeed.models import User
from paperfeed.service import follows as follow_service
from paperfeed.service import subscriptions
from paperfeed.service.subscriptions import MAX_SEARCHES, SEARCH_QUERY_MAX, Preferences
from paperfeed.store import outbox as store_outbox
from paperfeed.store import papers as store_papers
from paperfeed.store import subscriptions as store_subs
from paperfeed.store.subscriptions import Subscription
from paperfeed.web import auth
from paperfeed.web.context import db_of, render, settings_of
from paperfeed.web.ratelimit import limiter_for

log = logging.getLogger(__name__)

SECTION_LABELS = {
    "trending": "Trending papers",
    "featured": "The day's featured papers",
    "searches": "New papers for my saved searches",
    "follows": "New papers for what I follow (authors, categories, searches…)",
    "recommendations": "Recommended for me",
}
TOKEN_MAX = 100  # tokens are ~32 characters; longer path values are rejected before any query


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _csrf_installed(request: Request) -> bool:
    """True when the accounts part set up CSRF cookies on this app (then forms must carry one)."""
    return any(getattr(m.cls, "__name__", "") == "CsrfCookie" for m in request.app.user_middleware)


def _page(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> Response:
    return render(request, name, {"active": "subscribe", **context}, status_code=status)


def _clean_token(token: str) -> str:
    if not token or len(token) > TOKEN_MAX:
        raise NotFound("this link is incomplete or has expired")
    return token


# --- subscribe (double opt-in) ---------------------------------------------------------------


async def subscribe(request: Request) -> Response:
    """Take an address from the subscribe form and email it a confirmation link."""
    form = await auth.read_form(request)
    return await run_in_threadpool(_subscribe, request, form)


def _subscribe(request: Request, form: dict[str, str]) -> Response:
    settings, db = settings_of(request), db_of(request)
    if _csrf_installed(request):
        auth.check_csrf(request, form.get(auth.CSRF_FIELD))
    try:
        email = auth.check_email(form.get("email", ""))
    except InvalidInput as exc:
        if _wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=400)
        return _page(request, "subscribe_sent.html", {"error": str(exc)}, status=400)
    try:
        limiter_for(request.app).check(
            "subscribe",
            [f"ip:{auth.client_ip(request)}", f"email:{store_subs.email_key(email)}"],
            limit=settings.subscribe_rate_per_hour,
            window=3600,
            what="subscribe requests",
        )
    except RateLimited as exc:
        if _wants_json(request):
            response: Response = JSONResponse({"error": str(exc)}, status_code=429)
        else:
            response = _page(request, "subscribe_sent.html", {"error": str(exc)}, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    subscriptions.subscribe(db, settings, email, frequency=form.get("frequency", "daily"))
    if _wants_json(request):
        return JSONResponse({"status": "check-email"})
    return _page(request, "subscribe_sent.html", {"email": email})


def confirm_page(request: Request, token: str) -> Response:
    """The page a confirmation link opens: a button that confirms by POST (GET changes nothing)."""
    token = _clean_token(token)
    with db_of(request).read() as conn:
        sub = store_subs.pending_by_confirm_hash(conn, subscriptions.confirm_token_hash(token))
    return _page(request, "subscribe_confirm.html", {"valid": sub is not None, "token": token})


def confirm(request: Request, token: str) -> Response:
    """Activate the subscription; the token in the URL is the proof, so no cookie is needed."""
    token = _clean_token(token)
    with db_of(request).write() as conn:
        sub = store_subs.confirm(conn, subscriptions.confirm_token_hash(token))
    if sub is None:
        return _page(request, "subscribe_confirm.html", {"valid": False}, status=400)
    return _page(request, "subscribe_confirm.html", {"confirmed": True, "sub": sub})


# --- one-click unsubscribe (RFC 8058) --------------------------------------------------------


def unsubscribe_page(request: Request, token: str) -> Response:
    """GET on the List-Unsubscribe link: only a page with a button, nothing changes."""
    token = _clean_token(token)
    with db_of(request).read() as conn:
        sub = store_subs.get_by_unsubscribe_token(conn, token)
    return _page(request, "unsubscribe.html", {"sub": sub, "token": token})


def unsubscribe(request: Request, token: str) -> Response:
    """POST: unsubscribe now, without cookies or CSRF token, answering 200 (no redirect)."""
    token = _clean_token(token)
    with db_of(request).write() as conn:
        sub = store_subs.unsubscribe(conn, token)
    if sub is None:
        return _page(request, "unsubscribe.html", {"sub": None, "token": token}, status=404)
    return _page(request, "unsubscribe.html", {"sub": sub, "done": True, "token": token})


# --- manage preferences ----------------------------------------------------------------------


def _prefs(
    settings: Settings, form: dict[str, str], form_lists: dict[str, list[str]]
) -> Preferences:
    """The preferences form's fields, checked by the service."""
    try:
        hour = int(form.get("hour", str(settings.digest_hour)))
    except ValueError:
        raise InvalidInput("the hour is a number from 0 to 23") from None
    searches = [
        (
            form.get(f"search_{i}", ""),
            form.get(f"search_{i}_categories", "").replace(",", " ").split(),
        )
        for i in range(MAX_SEARCHES)
    ]
    return subscriptions.check_preferences(
        frequency=form.get("frequency", "daily"),
        hour=hour,
        timezone=form.get("timezone", "UTC"),
        sections=form_lists.get("sections", []),
        searches=searches,
    )


async def _form_lists(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    pairs = await auth.read_form_pairs(request)  # bounded: 413 past max_form_bytes, 400 past 50
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        single.setdefault(k, v)
        multi.setdefault(k, []).append(v)
    return single, multi


def _section_choices(member: bool) -> list[tuple[str, str]]:
    # Recommendations need an account (they learn from a member's votes and library); a
    # member's saved searches are follows, sent in the follows section.
    return [
        (k, SECTION_LABELS.get(k, k.title()))
        for k in section_names()
        if (k != "searches" if member else k not in ("recommendations", "follows"))
    ]


def _search_text(search: dict[str, Any]) -> str:
    """A digest form search as the search language writes it (categories as cat: filters)."""
    cats = (search.get("filters") or {}).get("categories", [])
    return " ".join([search.get("query", ""), *(f"cat:{c}" for c in cats)]).strip()


def _member_searches(request: Request, user: User) -> list[dict[str, Any]]:
    """The member's saved keyword searches (follows) in the form's slots, blanks after."""
    # Longer ones than the form's field holds stay on /settings/follows (the form would cut them).
    found = follow_service.keyword_searches(db_of(request), user)
    shown = [f for f in found if len(f.label) <= SEARCH_QUERY_MAX][:MAX_SEARCHES]
    searches: list[dict[str, Any]] = [{"query": f.label} for f in shown]
    return searches + [{}] * (MAX_SEARCHES - len(searches))


def _member_defaults(settings: Settings) -> dict[str, Any]:
    return {
        "sub": None,
        "sections": _section_choices(True),
        "hours": list(range(24)),
        "default_tz": settings.digest_timezone,
    }


def _manage_context(sub: Subscription, settings: Settings) -> dict[str, Any]:
    searches = list(sub.searches) + [{}] * (MAX_SEARCHES - len(sub.searches))
    return {
        "sub": sub,
        "sections": _section_choices(sub.user_id is not None),
        "searches": searches[:MAX_SEARCHES],
        "hours": list(range(24)),
        "default_tz": settings.digest_timezone,
    }


def manage_page(request: Request, token: str) -> Response:
    """Preferences of the subscription whose emails carry this token (linked from every digest)."""
    token = _clean_token(token)
    with db_of(request).read() as conn:
        sub = store_subs.get_by_unsubscribe_token(conn, token)
    if sub is None:
        raise NotFound("this link is incomplete or the subscription was removed")
    ctx = _manage_context(sub, settings_of(request))
    return _page(request, "subscription_manage.html", {**ctx, "action": f"/subscription/{token}"})


async def manage(request: Request, token: str) -> Response:
    """Save preferences from the manage page (the token in the URL authorises it)."""
    token = _clean_token(token)
    form, lists = await _form_lists(request)
    return await run_in_threadpool(_manage, request, token, form, lists)


def _manage(
    request: Request, token: str, form: dict[str, str], lists: dict[str, list[str]]
) -> Response:
    settings, db = settings_of(request), db_of(request)
    with db.read() as conn:
        sub = store_subs.get_by_unsubscribe_token(conn, token)
    if sub is None:
        raise NotFound("this link is incomplete or the subscription was removed")
    ctx = {"action": f"/subscription/{token}"}
    try:
        prefs = _prefs(settings, form, lists)
    except InvalidInput as exc:
        return _page(
            request,
            "subscription_manage.html",
            {**_manage_context(sub, settings), **ctx, "error": str(exc)},
            status=400,
        )
    updated = subscriptions.update_by_token(db, token, prefs)
    return _page(
        request,
        "subscription_manage.html",
        {**_manage_context(updated, settings), **ctx, "saved": True},
    )


def member_page(request: Request) -> Response:
    """A signed-in member's digest settings."""
    user = auth.current_user(request)
    if user is None:
        return HTMLResponse(status_code=303, headers={"Location": "/login?next=/settings/digests"})
    settings = settings_of(request)
    sub = subscriptions.member_subscription(db_of(request), user)
    ctx: dict[str, Any] = {"user": user, "action": "/settings/digests", "member": True}
    if sub is not None:
        ctx.update(_manage_context(sub, settings))
    else:
        ctx.update(_member_defaults(settings))
    ctx["searches"] = _member_searches(request, user)
    return _page(request, "subscription_manage.html", ctx)


async def member_save(request: Request) -> Response:
    """Subscribe, change or stop a signed-in member's digests."""
    form, lists = await _form_lists(request)
    return await run_in_threadpool(_member_save, request, form, lists)


def _member_save(request: Request, form: dict[str, str], lists: dict[str, list[str]]) -> Response:
    settings, db = settings_of(request), db_of(request)
    user = auth.current_user(request)
    if user is None:
        return HTMLResponse(status_code=303, headers={"Location": "/login?next=/settings/digests"})
    auth.check_csrf(request, form.get(auth.CSRF_FIELD))
    if form.get("action") == "stop":
        subscriptions.stop_member(db, user)
        return HTMLResponse(status_code=303, headers={"Location": "/settings/digests"})
    shown = [s.get("query", "") for s in _member_searches(request, user) if s]
    try:
        prefs = _prefs(settings, form, lists)
        wanted = [_search_text(s) for s in prefs.searches]
        follow_service.replace_searches(db, settings, user, shown, wanted)
    except (InvalidInput, NotFound) as exc:
        return _page(
            request,
            "subscription_manage.html",
            {
                "user": user,
                "action": "/settings/digests",
                "member": True,
                "error": str(exc),
                **_member_defaults(settings),
                "searches": _member_searches(request, user),
            },
            status=400,
        )
    # A member's searches are follows (docs/follow.md): the digest sends them in that section.
    sections = [s for s in prefs.sections if s != "searches"]
    if wanted and "follows" not in sections:
        sections.append("follows")
    subscriptions.save_member(db, user, replace(prefs, searches=[], sections=sections))
    return HTMLResponse(status_code=303, headers={"Location": "/settings/digests?saved=1"})


# --- view in browser -------------------------------------------------------------------------


def view_digest(request: Request, token: str) -> Response:
    """A sent (or pending) digest as a web page, exactly as its HTML part renders."""
    token = _clean_token(token)
    settings, db = settings_of(request), db_of(request)
    with db.read() as conn:
        row = store_outbox.get_by_token(conn, token)
        if row is None or row.status in ("skipped", "cancelled"):
            raise NotFound("no digest at this address")
        ids = [i["id"] for s in row.content.get("sections", []) for i in s["items"]]
        papers = store_papers.get_papers(conn, ids)
    rendered = render_digest(settings, row, papers)
    return HTMLResponse(rendered.html, headers={"X-Robots-Tag": "noindex"})


def subscription_json(sub: Subscription) -> dict[str, Any]:
    """A subscription as JSON (without its tokens)."""
    return {
        "email": sub.email,
        "status": sub.status,
        "frequency": sub.frequency,
        "sections": sub.sections,
        "searches": sub.searches,
        "timezone": sub.timezone,
        "hour": sub.hour,
    }

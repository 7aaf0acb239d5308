"""Follow and Unfollow buttons, and the settings page listing a member's follows."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed.errors import NotFound
from paperfeed.models import User
from paperfeed.service import follows as service
from paperfeed.store import follows as store_follows
from paperfeed.store import papers as store_papers
from paperfeed.store import users as store_users
from paperfeed.web import auth, feeds, forms
from paperfeed.web.context import db_of, path_for, render, settings_of, templates

FEED_ITEMS = 100


async def follow(request: Request) -> Response:
    """Follow or unfollow what a button names (kind, target, mode), then go back."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_follow, request, form)


def _follow(request: Request, form: dict[str, str]) -> Response:
    back = forms.safe_next(form.get("next"), "/settings/follows")
    if auth.current_user(request) is None:
        return forms.redirect(f"/login?next={quote(back)}")
    user = forms.require_user(request)
    forms.limit_write(request, user)
    db, kind, target = db_of(request), form.get("kind", ""), form.get("target", "")
    mode = form.get("mode", "keywords")
    if form.get("action") == "unfollow":
        if form.get("id", "").isdigit():
            service.unfollow(db, user, int(form["id"]))
        else:
            service.unfollow_target(db, user, kind, target, mode)
        return forms.redirect(back, "unfollowed")
    service.follow(db, settings_of(request), user, kind, target, mode)
    return forms.redirect(back, "followed")


def follows_page(request: Request) -> Response:
    """The member's follows, grouped by kind, each with an Unfollow button."""
    user = auth.current_user(request)
    if user is None:
        return forms.redirect(f"/login?next={quote('/settings/follows')}")
    items = service.list_for(db_of(request), user)
    context = {
        "items": items,
        "labels": service.KIND_LABELS,
        "cap": settings_of(request).follow_max_per_member,
        "active": "settings",
        "feed_url": _feed_url(request, user),
    }
    return render(request, "follows_settings.html", context)


def _token(request: Request, user_id: int, nonce: str) -> str:
    msg = f"follows-feed|{user_id}|{nonce}".encode()
    return hmac.new(auth._secret(request), msg, hashlib.sha256).hexdigest()[:32]


def _feed_url(request: Request, user: User) -> str:
    with db_of(request).write() as conn:
        nonce = store_follows.feed_nonce(conn, user.id)
    query = urlencode({"member": str(user.id), "token": _token(request, user.id, nonce)})
    return f"{path_for(request, 'follows_atom')}?{query}"


async def rotate_feed(request: Request) -> Response:
    """Make a new private-feed link; the old one stops working at once."""
    await forms.post_form(request)
    return await run_in_threadpool(_rotate, request)


def _rotate(request: Request) -> Response:
    user = forms.require_user(request, verified=False)
    with db_of(request).write() as conn:
        store_follows.feed_nonce(conn, user.id, rotate=True)
    return forms.redirect("/settings/follows", "feed-rotated")


def follows_atom(request: Request) -> Response:
    """Everything that matched the member's follows, newest first, as a private Atom feed."""
    member, token = request.query_params.get("member", ""), request.query_params.get("token", "")
    db = db_of(request)
    with db.read() as conn:
        user = (
            store_users.get_user(conn, int(member))
            if member.isdigit() and len(member) < 12
            else None
        )
        nonce = store_follows.existing_feed_nonce(conn, user.id) if user else None
        if (
            user is None
            or nonce is None
            or not hmac.compare_digest(_token(request, user.id, nonce), token[:64])
        ):
            raise NotFound(
                "this feed link is not valid (a new one may have been made): copy it again"
            )
        matches = store_follows.matches_for(conn, user.id, limit=FEED_ITEMS)
        papers = store_papers.get_papers(conn, [m.paper_id for m in matches])
    items = []
    seen: set[str] = set()
    for m in matches:
        p = papers.get(m.paper_id)
        if p is None or m.paper_id in seen:
            continue
        seen.add(m.paper_id)
        why = f"Version {m.version}" if m.version else f"New for {m.label}"
        items.append((p, m.matched_at, why))
    return feeds.atom_response(
        request,
        title=f"{settings_of(request).site_name} – what you follow",
        html_path=path_for(request, "notifications"),
        papers=items,
        private=True,
    )


def _globals(request: Request) -> dict[str, object]:
    def follow_state(kind: str, target: str, mode: str = "keywords") -> object:
        return service.following(db_of(request), auth.current_user(request), kind, target, mode)

    return {"follow_state": follow_state}


def install() -> None:
    """Give templates `follow_state(kind, target)` for the Follow buttons."""
    if _globals not in templates.context_processors:
        templates.context_processors.append(_globals)

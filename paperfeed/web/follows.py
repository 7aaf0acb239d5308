"""Follow and Unfollow buttons, and the settings page listing a member's follows."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed.service import follows as service
from paperfeed.web import auth, forms
from paperfeed.web.context import db_of, render, settings_of, templates


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
    }
    return render(request, "follows_settings.html", context)


def _globals(request: Request) -> dict[str, object]:
    def follow_state(kind: str, target: str, mode: str = "keywords") -> object:
        return service.following(db_of(request), auth.current_user(request), kind, target, mode)

    return {"follow_state": follow_state}


def install() -> None:
    """Give templates `follow_state(kind, target)` for the Follow buttons."""
    if _globals not in templates.context_processors:
        templates.context_processors.append(_globals)

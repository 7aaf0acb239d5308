"""The notifications page: what matched a member's follows, replies and mentions; mark read."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed.service import notifications as service
from paperfeed.web import auth, forms
from paperfeed.web.context import db_of, render, templates

PAGE = 50


def notifications_page(request: Request) -> Response:
    """The member's notifications, newest first (?before=ID pages back)."""
    user = auth.current_user(request)
    if user is None:
        return forms.redirect(f"/login?next={quote('/notifications')}")
    raw = request.query_params.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) < 12 else None
    items = service.list_for(db_of(request), user, before_id=before, limit=PAGE)
    older = items[-1].id if len(items) == PAGE else None
    return render(
        request,
        "notifications.html",
        {"items": items, "older": older, "active": "notifications"},
    )


async def notifications_read(request: Request) -> Response:
    """Mark all (or one, with `id`) of the member's notifications read."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_read, request, form)


def _read(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request, verified=False)
    raw = form.get("id", "")
    service.mark_read(db_of(request), user, [int(raw)] if raw.isdigit() and len(raw) < 12 else None)
    return forms.redirect("/notifications", "notifications-read")


def unread_count(request: Request) -> int:
    """The signed-in member's unread count for the header (0 when signed out)."""
    user = auth.current_user(request)
    if user is None:
        return 0
    cache = request.state.__dict__
    if "pf_unread" not in cache:
        cache["pf_unread"] = service.unread(db_of(request), user)
    return int(cache["pf_unread"])


def _globals(request: Request) -> dict[str, object]:
    return {"unread_notifications": lambda: unread_count(request)}


def install() -> None:
    """Give templates `unread_notifications()` for the header link."""
    if _globals not in templates.context_processors:
        templates.context_processors.append(_globals)

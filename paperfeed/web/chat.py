"""The chat settings page: a member's Apprise URLs (masked), add, remove, send a test message."""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from paperfeed.errors import InvalidInput, NotFound, RateLimited
from paperfeed.models import User
from paperfeed.service import chat as chat_service
from paperfeed.web import auth, forms
from paperfeed.web.context import db_of, settings_of

PAGE = "settings_chat.html"


def _page(request: Request, user: User, *, error: str = "", status: int = 200) -> Response:
    settings, db = settings_of(request), db_of(request)
    context = {
        "user": user,
        "channels": chat_service.channels(db, user),
        "max_channels": settings.chat_max_channels,
        "error": error,
    }
    return forms.form_page(request, PAGE, context, status=status)


def chat_page(request: Request) -> Response:
    """The member's chat channels."""
    user = auth.current_user(request)
    if user is None:
        return forms.redirect(f"/login?next={quote('/settings/chat')}")
    return _page(request, user)


async def chat_post(request: Request) -> Response:
    """Add, remove or test a channel (CSRF-checked form)."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_chat_post, request, form)


def _channel_id(form: dict[str, str]) -> int:
    try:
        return int(form.get("channel", ""))
    except ValueError:
        raise InvalidInput("no such chat channel") from None


def _chat_post(request: Request, form: dict[str, str]) -> Response:
    settings, db = settings_of(request), db_of(request)
    user = forms.require_user(request)
    action = form.get("action", "")
    try:
        if action == "add":
            chat_service.add_channel(db, settings, user, form.get("url", ""), form.get("label", ""))
        elif action == "remove":
            chat_service.remove_channel(db, user, _channel_id(form))
        elif action == "test":
            chat_service.test_channel(db, settings, user, _channel_id(form))
        else:
            raise InvalidInput("unknown chat settings action")
    except (InvalidInput, NotFound) as exc:
        return _page(request, user, error=str(exc), status=400)
    except RateLimited as exc:
        response = _page(request, user, error=str(exc), status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return forms.redirect("/settings/chat", "saved")

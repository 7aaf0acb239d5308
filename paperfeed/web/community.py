"""Wiring every member page shares: template globals, domain-error pages, the CSRF cookie."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed import accounts
from paperfeed.errors import (
    Conflict,
    InvalidInput,
    PermissionDenied,
    RateLimited,
    Unauthorized,
    UpstreamError,
)
from paperfeed.models import Comment
from paperfeed.store import comments as comment_store
from paperfeed.store import votes as vote_store
from paperfeed.web import auth, forms
from paperfeed.web.comments import linkify
from paperfeed.web.context import cards_to_fetch, db_of, error_response, settings_of, templates


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
            if isinstance(exc, Unauthorized):
                response.headers["WWW-Authenticate"] = 'Bearer realm="paperfeed"'

            return response

        return handle

    app.add_exception_handler(Unauthorized, handler(401, "Sign in required"))
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

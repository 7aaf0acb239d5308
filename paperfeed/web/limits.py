"""Request body limits, enforced while the body streams so no handler ever buffers more."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError

# Paths where a file upload is expected, with the setting that bounds the file. The multipart
# envelope (boundaries, part headers, the CSRF field) adds well under 64 KiB on top of the file.
UPLOADS = {"/library/import": "library_import_max_bytes"}
MULTIPART_SLACK = 65_536


class BodyTooLarge(PaperfeedError):
    """A request body is larger than its route accepts (answered 413)."""


ErrorPage = Callable[[Request, int, str, str], Response]


def body_limit(settings: Settings, path: str) -> tuple[int, str]:
    """The most bytes a request body to this path may have, and the message when it has more."""
    setting = UPLOADS.get(path)
    if setting is not None:
        limit = int(getattr(settings, setting))
        return limit + MULTIPART_SLACK, (
            f"the file is larger than {limit / 1_000_000:g} MB: export a smaller part of the "
            "library (for example one collection) and import the parts one by one"
        )
    limit = settings.max_form_bytes
    return limit, (
        f"the request is larger than {limit // 1024} KiB, the most this page accepts: "
        f"comments are limited to {settings.comment_max_chars:,} characters, so shorten the text "
        "and send it again"
    )


def declared_length(scope: Scope) -> int | None:
    """The Content-Length a request announced, or None when it streams chunked."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """ASGI middleware answering 413 once Content-Length or the bytes streamed so far pass the limit."""

    def __init__(self, app: ASGIApp, settings: Settings, error_page: ErrorPage) -> None:
        self.app = app
        self.settings = settings
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a receive that counts body bytes and stops past the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        limit, message = body_limit(self.settings, path)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await self.refuse(scope, send, message)  # before a single body byte is read
            return
        received = 0
        exceeded = started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(message)
            return msg

        async def guarded_send(msg: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app answers to the cut-off body, the answer is our 413
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self.refuse(scope, send, message)

    async def refuse(self, scope: Scope, send: Send, message: str) -> None:
        """Answer 413 (an HTML page, or JSON under /api/) and close the connection."""
        response = self.error_page(Request(scope), 413, "Too large", message)
        # The rest of the body is never read: closing tells the client not to reuse the socket.
        response.headers["Connection"] = "close"
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}

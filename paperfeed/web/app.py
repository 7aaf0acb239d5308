"""The FastAPI application factory: routes, templates, static files, errors and security headers."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.config import Settings
from paperfeed.digest import chat as chat_push
from paperfeed.digest import postbox
from paperfeed.errors import ConfigError, InvalidId, NotFound
from paperfeed.store import Database, open_database
from paperfeed.web import auth, metrics, pagecache, params, routes
from paperfeed.web.context import STATIC_DIR, error_response
from paperfeed.web.limits import BodyLimit
from paperfeed.web.views import BadRequest

log = logging.getLogger(__name__)

# MathML from latex2mathml needs no script; inline styles stay allowed for MathML and mspace.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
# The headers each PAPERFEED_CRAWLERS value adds to every answer.
CRAWLERS: dict[str, dict[str, str]] = {"allow": {}, "deny": {"X-Robots-Tag": "noindex, nofollow"}}


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    """Build the web app on a database (opened from settings.database_url when not given)."""
    if settings.crawlers not in CRAWLERS:
        raise ConfigError(f"PAPERFEED_CRAWLERS must be allow or deny, not {settings.crawlers!r}")
    owns_db = db is None
    database = open_database(settings.database_url) if db is None else db

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        courier = postbox.start(settings, database)  # account mail leaves the request path
        chat_courier = chat_push.start(settings, database)  # its own thread: never waits on mail
        yield
        await run_in_threadpool(courier.stop)
        await run_in_threadpool(chat_courier.stop)
        if owns_db:
            database.dispose()

    app = FastAPI(
        title=settings.site_name,
        docs_url=None,  # Swagger UI loads scripts from a CDN, which the CSP forbids
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
        # One Origin check before every state-changing route (auth.ORIGIN_EXEMPT lists the rest),
        # and a bad bearer token is refused (401) on every API route, reads included.
        dependencies=[Depends(auth.check_bearer), Depends(auth.check_origin)],
    )
    app.state.settings = settings
    app.state.db = database
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    params.install()  # before the routes compile: {id:int} matches ids a BIGINT holds
    routes.register(app)
    # The Hub serves its schema at /openapi.json; /api/openapi.json stays for existing clients.
    app.add_api_route("/openapi.json", lambda: app.openapi(), include_in_schema=False)
    app.add_middleware(BodyLimit, settings=settings, error_page=error_response)
    metrics.install(app)  # operations: request counts and latencies per route
    _add_error_handlers(app)

    pagecache.install(app, database, settings.visitor_cache_seconds)  # signed-out feed pages
    # A closed site also says so on every answer: robots.txt alone keeps a linked page listed.
    app.add_middleware(SecurityHeaders, extra=CRAWLERS[settings.crawlers])
    return app


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS (and any extra) to every HTTP response lacking them."""

    def __init__(self, app: ASGIApp, extra: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = {**SECURITY_HEADERS, **(extra or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def app_from_env() -> FastAPI:
    """Build the app from PAPERFEED_* variables: the factory each `serve --workers N` process calls."""
    return create_app(Settings.from_env())


def validation_message(exc: RequestValidationError) -> str:
    """The first invalid parameter in one line: which one, what was wrong, what was sent."""
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ())[1:]) or "request"
        sent = str(err.get("input", ""))[:40]
        return f"{where}: {err.get('msg', 'invalid')} (got {sent!r})"
    return "malformed request parameters"


def _add_error_handlers(app: FastAPI) -> None:
    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(request, 404, "Not found", str(exc))

    async def bad_request(request: Request, exc: Exception) -> Response:
        return error_response(request, 400, "Bad request", str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        titles = {404: "Not found", 405: "Method not allowed"}
        message = "There is no page at this address." if exc.status_code == 404 else exc.detail
        response = error_response(
            request, exc.status_code, titles.get(exc.status_code, "Error"), str(message)
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, 400, "Bad request", validation_message(exc))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return error_response(
            request, 500, "Server error", "Something went wrong on our side; it has been logged."
        )

    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(InvalidId, not_found)  # a malformed id in a path names no page
    app.add_exception_handler(BadRequest, bad_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error)

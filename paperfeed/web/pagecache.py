"""Visitor page cache: a signed-out reader's feed page is rendered once per change of the store."""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from paperfeed.store import Database
from paperfeed.store.pagemarks import after_each_write, feed_mark
from paperfeed.web import auth

MAX_PAGES = 256  # distinct URLs kept per process; a feed page is 100-200 KB, so at most ~50 MB
CACHE_HEADER = "x-page-cache"  # hit | miss | bypass, for operators and tests
# Rendered where the CSRF token goes and swapped for each visitor's own token when served:
# random per process and as long as the real one (64 hex digits), so it never occurs by chance.
_PLACEHOLDER = secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A rendered page (CSRF token left as the placeholder) and the store mark it was read at."""

    mark: tuple[Any, ...]
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


class PageCache:
    """Pages by (root path, path, query, Accept), valid while the store's feed mark stays put."""

    def __init__(self, db: Database, ttl: float) -> None:
        self.db = db
        self.ttl = ttl
        self._pages: OrderedDict[tuple[str, ...], CachedPage] = OrderedDict()
        self._mark: tuple[Any, ...] | None = None
        self._checked = float("-inf")
        self._lock = threading.RLock()  # expire() may run inside a store call made under it

    def mark(self) -> tuple[Any, ...]:
        """The store's feed mark, asked again once ttl seconds have passed or after a write."""
        with self._lock:
            now = time.monotonic()
            if self._mark is not None and now - self._checked < self.ttl:
                return self._mark
            with self.db.read() as conn:
                mark = feed_mark(conn)
            if mark != self._mark:
                self._pages.clear()
                self._mark = mark
            self._checked = now
            return mark

    def expire(self) -> None:
        """Ask the store again on the next request (this process has just written)."""
        with self._lock:
            self._checked = float("-inf")

    def get(self, key: tuple[str, ...], mark: tuple[Any, ...]) -> CachedPage | None:
        """The page cached for key if it was read at this mark."""
        with self._lock:
            page = self._pages.get(key)
            if page is None or page.mark != mark:
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: tuple[str, ...], page: CachedPage) -> None:
        """Keep a page, dropping the least recently used beyond MAX_PAGES."""
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)


def _cacheable(response: Response) -> bool:
    # Only whole HTML pages (a day without papers is a 404 page); never one that sets a cookie.
    kind = response.headers.get("content-type", "")
    return (
        response.status_code in (200, 404)
        and kind.startswith("text/html")
        and "set-cookie" not in response.headers
    )


def _serve(request: Request, page: CachedPage, state: str) -> Response:
    # The visitor's own token: from its CSRF cookie, or a fresh nonce that CsrfCookie then sets.
    token = auth.csrf_token(request).encode("ascii")
    response = Response(page.body.replace(_PLACEHOLDER.encode("ascii"), token), page.status)
    for name, value in page.headers:
        response.headers.append(name, value)
    response.headers[CACHE_HEADER] = state
    return response


def visitor_page(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Serve a page handler's answers to signed-out readers from the app's PageCache."""

    @functools.wraps(handler)
    def cached(request: Request, *args: Any, **kwargs: Any) -> Response:
        cache: PageCache | None = getattr(request.app.state, "pf_pages", None)
        # A session cookie, even a stale one, may mean a member: their pages are their own.
        if cache is None or auth.SESSION_COOKIE in request.cookies:
            return handler(request, *args, **kwargs)
        key = (
            request.scope.get("root_path", ""),
            request.url.path,
            request.url.query,
            request.headers.get("accept", ""),
        )
        mark = cache.mark()  # before rendering: a change during it makes the page stale at once
        page = cache.get(key, mark)
        if page is not None:
            return _serve(request, page, "hit")
        request.state.pf_csrf_token = ("", _PLACEHOLDER)  # what csrf_token() returns meanwhile
        try:
            response = handler(request, *args, **kwargs)
        finally:
            del request.state.pf_csrf_token
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):
            return response  # a streamed answer was never a page with forms
        headers = tuple(
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in response.raw_headers
            if k.lower() != b"content-length"
        )
        page = CachedPage(mark, response.status_code, body, headers)
        if not _cacheable(response):
            return _serve(request, page, "bypass")
        cache.put(key, page)
        return _serve(request, page, "miss")

    return cached


def install(app: FastAPI, db: Database, ttl: float) -> None:
    """Give an app its visitor page cache (none when ttl is 0)."""
    if ttl <= 0:
        return
    cache = app.state.pf_pages = PageCache(db, ttl)
    # Writes of this process (pages, API, worker jobs in `serve`) count at once; those of
    # other processes (CLI imports, a separate worker, other web workers) within ttl seconds.
    after_each_write(db, cache.expire)

"""The one polite HTTP client every source uses: identified, rate limited, retrying with backoff."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.errors import UpstreamError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_CAP = 120.0  # seconds: exponential backoff stops growing here


def user_agent(settings: Settings) -> str:
    """The User-Agent naming paperfeed, this instance and the operator's contact address."""
    parts = [f"+{settings.base_url}"]
    if settings.contact_email:
        parts.append(f"mailto:{settings.contact_email}")
    return f"paperfeed/{__version__} ({'; '.join(parts)})"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


class _Throttle:
    """Process-wide per-host spacing: every client shares it, so parallel jobs stay polite."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}

    def host_lock(self, host: str) -> threading.Lock:
        with self._lock:
            return self._host_locks.setdefault(host, threading.Lock())

    def wait(self, host: str, interval: float, sleep: Callable[[float], None]) -> None:
        last = self._last.get(host)
        if last is not None and interval > 0:
            delay = last + interval - time.monotonic()
            if delay > 0:
                sleep(delay)

    def mark(self, host: str) -> None:
        self._last[host] = time.monotonic()


THROTTLE = _Throttle()


class HttpClient:
    """A synchronous client with one connection per host, per-host spacing and retries."""

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._transport = transport
        self._clients: dict[str, httpx.Client] = {}
        self.requests = 0  # sent, including retries; shown in summaries

    def _client(self, host: str) -> httpx.Client:
        client = self._clients.get(host)
        if client is None:
            # One connection per upstream host: arXiv asks robots not to open parallel ones.
            client = httpx.Client(
                headers={"User-Agent": user_agent(self.settings)},
                timeout=self.settings.http_timeout,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                follow_redirects=True,
                transport=self._transport,
            )
            self._clients[host] = client
        return client

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept: tuple[int, ...] = (),
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET a URL; statuses in `accept` are returned as-is, other failures raise UpstreamError."""
        if params is not None:
            params = {k: v for k, v in params.items() if v is not None}
        return self._send("GET", url, params=params, accept=accept, headers=headers)

    def post_json(
        self, url: str, payload: Any, *, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """POST a JSON body (to a service the operator runs, such as a summarizer), retrying like GET."""
        return self._send("POST", url, json=payload, headers=headers)

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        host = urlsplit(url).netloc
        retries = max(0, self.settings.http_retries)
        attempt = 0
        while True:
            with THROTTLE.host_lock(host):
                THROTTLE.wait(host, self.settings.http_min_interval, self._sleep)
                try:
                    self.requests += 1
                    resp = self._client(host).request(
                        method, url, params=params, json=json, headers=headers
                    )
                    error: str | None = None
                except httpx.TimeoutException:
                    resp, error = None, f"timed out after {self.settings.http_timeout:g} s"
                except httpx.TransportError as exc:
                    resp, error = None, f"connection failed ({exc.__class__.__name__}: {exc})"
                finally:
                    THROTTLE.mark(host)
            shown = _shown(url, params)
            if resp is not None:
                if resp.status_code < 400 or resp.status_code in accept:
                    return resp
                if resp.status_code not in RETRY_STATUSES:
                    raise UpstreamError(
                        f"{shown} answered HTTP {resp.status_code}{_body_hint(resp)}; "
                        "check the URL setting and the request parameters"
                    )
                error = f"HTTP {resp.status_code}"
            if attempt >= retries:
                raise UpstreamError(
                    f"{shown} failed after {attempt + 1} attempt(s): {error}; "
                    "the service may be down, try again later or raise PAPERFEED_HTTP_RETRIES"
                )
            delay = self._backoff(attempt)
            if resp is not None:
                asked = retry_after_seconds(resp.headers.get("Retry-After"))
                if asked is not None:
                    if asked > self.settings.retry_after_cap:
                        raise UpstreamError(
                            f"{shown} asked to wait {asked:.0f} s (HTTP {resp.status_code} "
                            f"Retry-After), more than PAPERFEED_RETRY_AFTER_CAP="
                            f"{self.settings.retry_after_cap:g}; try again later"
                        )
                    delay = asked
            log.info("%s: %s; retrying in %.1f s", shown, error, delay)
            self._sleep(delay)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        return float(min(BACKOFF_CAP, self.settings.http_backoff * (2**attempt)))

    def close(self) -> None:
        """Close every connection."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shown(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    text = f"{url}?{query}"
    return text if len(text) <= 200 else text[:197] + "..."


def _body_hint(resp: httpx.Response) -> str:
    text = " ".join(resp.text[:200].split()) if resp.content else ""
    return f" ({text})" if text else ""

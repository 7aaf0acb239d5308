"""Prometheus metrics: requests and latency per route template, plus store, harvest, index and digest state."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.config import Settings
from paperfeed.store import Database, ops

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by `serve --workers N`: workers share counters
SNAPSHOT_SECONDS = 5.0  # store numbers are re-read at most this often per process
UNMATCHED = "<unmatched>"  # every 404 under one label: scanners must not explode the series
# Clients choose the method token: each new one made a new series (about 1.5 KB of /metrics).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
STATUSES = frozenset(str(s.value) for s in HTTPStatus)

# registry=None: each scrape builds its own registry (see render), in one or many processes.
REQUESTS = Counter(
    "paperfeed_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=None,
)
LATENCY = Histogram(
    "paperfeed_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)


def method_label(scope: Scope) -> str:
    """The request method when it is a standard one, else OTHER_METHOD."""
    method = str(scope.get("method", "GET"))
    return method if method in METHODS else OTHER_METHOD


def status_label(status: int) -> str:
    """The status code when HTTP defines it, else its class ('5xx'): a bounded set either way."""
    code = str(status)
    return code if code in STATUSES else f"{code[:1]}xx"


def route_template(scope: Scope) -> str:
    """The matched route's path template (/papers/{arxiv_id:path}), not the concrete URL."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    return str(getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED))


class MetricsMiddleware:
    """ASGI middleware counting requests and timing them per route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, noting its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception escaping the app becomes a 500 further out

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method, route = method_label(scope), route_template(scope)
            REQUESTS.labels(method, route, status_label(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - start)


def install(app: FastAPI) -> None:
    """Add the request-metrics middleware to an app."""
    app.add_middleware(MetricsMiddleware)


def index_rev(settings: Settings) -> int | None:
    """The keyword index's watermark (the paper rev it has caught up to), or None if not built."""
    try:
        from paperfeed.search.publication import PUBLISHED
        from paperfeed.search.sync import Layout, search_dir
    except ImportError:
        return None
    # In publish mode a web process serves its fetched copy of the published index.
    layout = Layout(search_dir(settings), PUBLISHED if settings.index_publish_dir else "lexical")
    gen = layout.lexical_generation()
    if gen is None:
        return None
    try:
        return int(json.loads(layout.lexical_meta(gen).read_text()).get("rev", 0))
    except (OSError, ValueError):
        return None


class StoreCollector(Collector):
    """Gauges read from the store at scrape time (cached a few seconds per process)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._lock = threading.Lock()
        self._cached: tuple[float, ops.OpsSnapshot] | None = None

    def snapshot(self) -> ops.OpsSnapshot:
        """The store's numbers, re-read when older than SNAPSHOT_SECONDS."""
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > SNAPSHOT_SECONDS:
                with self.db.read() as conn:
                    self._cached = (now, ops.snapshot(conn))
            return self._cached[1]

    def collect(self) -> Iterator[Metric]:
        """Yield the store, harvest, index and digest gauges."""
        try:
            snap = self.snapshot()
        except Exception:
            log.exception("metrics: reading the store failed")
            yield GaugeMetricFamily("paperfeed_store_up", "1 when the store answered.", value=0)
            return
        yield GaugeMetricFamily("paperfeed_store_up", "1 when the store answered.", value=1)
        yield GaugeMetricFamily("paperfeed_papers", "Papers stored.", value=snap.papers)
        yield GaugeMetricFamily(
            "paperfeed_papers_rev", "Highest paper change number (rev).", value=snap.max_rev
        )
        now = datetime.now(UTC).replace(tzinfo=None)
        last = GaugeMetricFamily(
            "paperfeed_harvest_last_success_timestamp_seconds",
            "Unix time a source's last successful harvest finished.",
            labels=["source"],
        )
        lag = GaugeMetricFamily(
            "paperfeed_harvest_lag_seconds",
            "Seconds since a source's last successful harvest finished.",
            labels=["source"],
        )
        for source, finished in sorted(snap.harvest_last_success.items()):
            last.add_metric([source], finished.replace(tzinfo=UTC).timestamp())
            lag.add_metric([source], max(0.0, (now - finished).total_seconds()))
        runs = GaugeMetricFamily(
            "paperfeed_harvest_runs",
            "Recorded harvest runs by source and outcome.",
            labels=["source", "status"],
        )
        for (source, status), n in sorted(snap.harvest_runs.items()):
            runs.add_metric([source, status], n)
        yield from (last, lag, runs)
        rev = index_rev(self.settings)
        if rev is not None:
            yield GaugeMetricFamily(
                "paperfeed_search_index_rev",
                "Paper rev the keyword index has caught up to.",
                value=rev,
            )
            yield GaugeMetricFamily(
                "paperfeed_search_index_lag",
                "Paper changes not yet in the keyword index (papers rev minus index watermark).",
                value=max(0, snap.max_rev - rev),
            )
        outbox = GaugeMetricFamily(
            "paperfeed_digest_outbox",
            "Digest emails in the outbox by status (pending, sent, ...).",
            labels=["status"],
        )
        for status, n in sorted(snap.outbox.items()):
            outbox.add_metric([status], n)
        yield outbox


def render(app: Any) -> tuple[bytes, str]:
    """The metrics page of this app (all worker processes' requests when several serve)."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    collector = getattr(app.state, "metrics_store", None)
    if collector is None:
        collector = app.state.metrics_store = StoreCollector(app.state.db, app.state.settings)
    registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics(request: Request) -> Response:
    """GET /metrics in the Prometheus text format."""
    body, content_type = render(request.app)
    return Response(body, media_type=content_type)

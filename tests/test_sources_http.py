"""The polite HTTP client against a real loopback server: retries, Retry-After, spacing, identity."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from _harvest_helpers import (  # noqa: F401 (fixtures)
    Reply,
    Request,
    Upstream,
    no_outside_network_fixture,
    settings_for,
    upstream_fixture,
)

from paperfeed.errors import UpstreamError
from paperfeed.sources.http import HttpClient, retry_after_seconds, user_agent

pytestmark = pytest.mark.usefixtures("no_outside_network")


def client_for(upstream: Upstream, **kw: object) -> tuple[HttpClient, list[float]]:
    sleeps: list[float] = []
    return HttpClient(settings_for(upstream, **kw), sleep=sleeps.append), sleeps


def test_503_with_retry_after_seconds_waits_that_long(upstream: Upstream) -> None:
    upstream.script([Reply(b"busy", 503, {"Retry-After": "7"}), Reply(b"ok")])
    client, sleeps = client_for(upstream)
    resp = client.get(upstream.url + "/oai", {"verb": "Identify"})
    assert resp.text == "ok" and len(upstream.requests) == 2
    assert sleeps == [7.0]


def test_503_with_retry_after_http_date(upstream: Upstream) -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=1), usegmt=True)
    upstream.script([Reply(b"busy", 503, {"Retry-After": past}), Reply(b"ok")])
    client, sleeps = client_for(upstream, http_backoff=9.0)
    assert client.get(upstream.url + "/oai").text == "ok"
    assert sleeps == [0.0]  # the date has passed: retry at once, not after the 9 s backoff


def test_retry_after_parsing() -> None:
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Fri, 27 Nov 2026 12:02:00 GMT", now) == 120.0
    assert retry_after_seconds("Fri, 27 Nov 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_retry_after_beyond_the_cap_gives_up_with_the_setting_named(upstream: Upstream) -> None:
    upstream.script([Reply(b"busy", 503, {"Retry-After": "3600"}), Reply(b"ok")])
    client, sleeps = client_for(upstream, retry_after_cap=60.0)
    with pytest.raises(UpstreamError, match="PAPERFEED_RETRY_AFTER_CAP"):
        client.get(upstream.url + "/oai")
    assert len(upstream.requests) == 1 and sleeps == []


def test_429_is_retried_with_exponential_backoff(upstream: Upstream) -> None:
    upstream.script([Reply(b"slow down", 429), Reply(b"slow down", 429), Reply(b"ok")])
    client, sleeps = client_for(upstream, http_backoff=0.5)
    assert client.get(upstream.url + "/api/daily_papers").text == "ok"
    assert sleeps == [0.5, 1.0]


def test_404_is_not_retried(upstream: Upstream) -> None:
    upstream.script([Reply(b"no such page", 404), Reply(b"ok")])
    client, sleeps = client_for(upstream)
    with pytest.raises(UpstreamError, match="HTTP 404 \\(no such page\\)"):
        client.get(upstream.url + "/nope")
    assert len(upstream.requests) == 1 and sleeps == []


def test_accepted_4xx_is_returned(upstream: Upstream) -> None:
    upstream.script([Reply(b"<feed/>", 400)])
    client, _ = client_for(upstream)
    assert client.get(upstream.url + "/api/query", accept=(400,)).status_code == 400


def test_persistent_5xx_gives_up_after_the_configured_retries(upstream: Upstream) -> None:
    upstream.script([Reply(b"down", 500)])
    client, sleeps = client_for(upstream, http_retries=3, http_backoff=1.0)
    with pytest.raises(UpstreamError, match="failed after 4 attempt\\(s\\): HTTP 500"):
        client.get(upstream.url + "/oai")
    assert len(upstream.requests) == 4 and sleeps == [1.0, 2.0, 4.0]


def test_timeout_is_retried(upstream: Upstream) -> None:
    stall = threading.Event()
    upstream.script([Reply(b"late", stall=stall), Reply(b"ok")])
    client, sleeps = client_for(upstream, http_timeout=0.3)
    try:
        assert client.get(upstream.url + "/oai").text == "ok"
    finally:
        stall.set()
    assert len(upstream.requests) == 2 and len(sleeps) == 1


def test_identifies_itself_and_the_operator(upstream: Upstream) -> None:
    upstream.script([Reply(b"ok")])
    client, _ = client_for(upstream)
    client.get(upstream.url + "/x")
    ua = upstream.requests[0].headers["User-Agent"]
    assert ua == user_agent(client.settings)
    assert (
        ua.startswith("paperfeed/0.")
        and "(+https://papers.example.org; mailto:ops@example.org)" in ua
    )


def test_requests_to_one_host_are_spaced(upstream: Upstream) -> None:
    upstream.script([Reply(b"ok")])
    client, sleeps = client_for(upstream, http_min_interval=5.0)
    client.get(upstream.url + "/a")
    client.get(upstream.url + "/b")
    # The second request waited out the rest of the 5 s interval (the fake sleep records it).
    assert len(sleeps) == 1 and 4.0 < sleeps[0] <= 5.0


def test_one_connection_per_host_is_reused(upstream: Upstream) -> None:
    upstream.script([Reply(b"ok")])
    client, _ = client_for(upstream)
    for _ in range(3):
        client.get(upstream.url + "/x")
    assert len(upstream.requests) == 3
    assert len({r.client_port for r in upstream.requests}) == 1


def test_guard_refuses_non_loopback_sockets() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(AssertionError, match="non-loopback"):
            s.connect(("192.0.2.1", 80))  # TEST-NET-1: never reached, the guard stops it first
    finally:
        s.close()

"""Subscribe (double opt-in), one-click unsubscribe, manage and view-in-browser over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from _digest_helpers import SmtpServer, add_papers, add_subscriber, smtp_settings
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.digest import compose, send
from paperfeed.store import Database
from paperfeed.store import outbox as store_outbox
from paperfeed.store import subscriptions as store_subs
from paperfeed.web.app import create_app

NOW = datetime(2026, 11, 27, 8, 0)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def _settings(db: Database, port: int, **kw: object) -> Settings:
    return smtp_settings(  # type: ignore[no-any-return]
        db, port, base_url="https://papers.example.org", **kw
    )


def _client(settings: Settings, db: Database) -> TestClient:
    return TestClient(create_app(settings, db), base_url="https://papers.example.org")


def _subscribe(client: TestClient, email: str) -> tuple[int, str]:
    page = client.get("/").text
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"email": email}
    if m:
        data["csrf_token"] = m.group(1)
    r = client.post("/subscribe", data=data)
    notice = re.search(r'<p class="notice" role="status">(.*?)</p>', r.text, re.S)
    return r.status_code, notice.group(1) if notice else r.text


def _link(body: str, prefix: str) -> str:
    m = re.search(re.escape(prefix) + r"[A-Za-z0-9_\-]+", body)
    assert m, body
    return m.group(0)


def test_double_opt_in_flow(sqlite_db: Database, smtp: SmtpServer) -> None:
    db = sqlite_db
    client = _client(_settings(db, smtp.port), db)
    status, notice = _subscribe(client, "new@example.org")
    assert status == 200 and "new@example.org" in notice
    [mail] = smtp.wait_to("new@example.org")  # sent by the background sender, off the request
    assert mail.rcpt_tos == ["new@example.org"]
    msg = mail.message
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = _link(text, "https://papers.example.org/subscribe/confirm/")
    path = link.removeprefix("https://papers.example.org")
    # GET only shows the page with the button: nothing is confirmed yet.
    page = client.get(path)
    assert page.status_code == 200 and 'id="confirm-button"' in page.text
    with db.read() as conn:
        assert store_subs.get_by_email(conn, "new@example.org").status == "pending"  # type: ignore[union-attr]
    done = client.post(path)
    assert done.status_code == 200 and "subscribed" in done.text
    with db.read() as conn:
        sub = store_subs.get_by_email(conn, "new@example.org")
    assert sub is not None and sub.status == "active"
    assert client.post(path).status_code == 400  # a used link does nothing more
    # Subscribing a known (active) address answers exactly like a new one, and sends nothing.
    status2, notice2 = _subscribe(client, "new@example.org")
    status3, notice3 = _subscribe(client, "other@example.org")
    assert (status2, notice2.replace("new@", "X@")) == (status3, notice3.replace("other@", "X@"))
    smtp.wait_to("other@example.org")
    assert [m.rcpt_tos for m in smtp.handler.messages] == [
        ["new@example.org"],
        ["other@example.org"],
    ]


def test_subscribe_needs_csrf_and_is_rate_limited(sqlite_db: Database, smtp: SmtpServer) -> None:
    db = sqlite_db
    client = _client(_settings(db, smtp.port, subscribe_rate_per_hour=2), db)
    client.get("/")
    assert client.post("/subscribe", data={"email": "x@example.org"}).status_code == 403
    assert _subscribe(client, "a@example.org")[0] == 200
    assert _subscribe(client, "b@example.org")[0] == 200
    assert _subscribe(client, "c@example.org")[0] == 429
    assert _subscribe(client, "not-an-address")[0] in (400, 429)
    smtp.wait_to("a@example.org")
    smtp.wait_to("b@example.org")
    assert len(smtp.handler.messages) == 2


def test_one_click_unsubscribe_without_cookies(sqlite_db: Database, smtp: SmtpServer) -> None:
    db = sqlite_db
    add_papers(db, date(2026, 11, 27), 2)
    sub = add_subscriber(db, "leaving@example.org")
    settings = _settings(db, smtp.port)
    compose.compose_due(db, settings, now=NOW)  # a digest is already waiting in the outbox
    url = f"/unsubscribe/{sub.unsubscribe_token}"
    bare = _client(settings, db)  # fresh client: no cookies, no CSRF token
    page = bare.get(url)
    assert page.status_code == 200 and 'id="unsubscribe-button"' in page.text
    with db.read() as conn:
        assert store_subs.get(conn, sub.id).status == "active"  # type: ignore[union-attr]
    # RFC 8058: the mail client POSTs this exact body to the List-Unsubscribe URL.
    r = bare.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 200 and "unsubscribed" in r.text
    assert not bare.cookies.get("pf_session")
    with db.read() as conn:
        assert store_subs.get(conn, sub.id).status == "unsubscribed"  # type: ignore[union-attr]
    # It takes effect before the next send: the waiting digest is never delivered.
    report = send.send_pending(db, settings)
    assert report.sent == 0 and report.cancelled == 1 and smtp.handler.messages == []
    assert bare.post("/unsubscribe/not-a-token").status_code == 404


def test_view_in_browser_and_manage_page(sqlite_db: Database, smtp: SmtpServer) -> None:
    db = sqlite_db
    add_papers(db, date(2026, 11, 27), 2)
    sub = add_subscriber(db, "reader@example.org")
    settings = _settings(db, smtp.port)
    send.run(db, settings, now=NOW)
    with db.read() as conn:
        [row] = store_outbox.for_subscription(conn, sub.id)
    client = _client(settings, db)
    view = client.get(f"/digests/{row.token}")
    assert view.status_code == 200 and "Paper 0 on α-scaling" in view.text
    assert "<script" not in view.text
    assert client.get("/digests/unknown-token").status_code == 404
    manage = f"/subscription/{sub.unsubscribe_token}"
    assert client.get(manage).status_code == 200
    r = client.post(
        manage,
        data={
            "frequency": "weekly",
            "hour": "9",
            "timezone": "Europe/Paris",
            "sections": ["featured", "searches"],
            "search_0": "diffusion models",
            "search_0_categories": "cs.CV",
        },
    )
    assert r.status_code == 200 and "Saved." in r.text
    with db.read() as conn:
        got = store_subs.get(conn, sub.id)
    assert got is not None and (got.frequency, got.hour, got.timezone) == (
        "weekly",
        9,
        "Europe/Paris",
    )
    assert got.sections == ["featured", "searches"]
    assert got.searches == [{"query": "diffusion models", "filters": {"categories": ["cs.CV"]}}]
    bad = client.post(manage, data={"frequency": "hourly"})
    assert bad.status_code == 400


def _member_client(db: Database, smtp: SmtpServer) -> tuple[Any, Any, str]:
    """A verified member, a client of the site, and the member's session cookie value."""
    from paperfeed.store import sessions as session_store
    from paperfeed.store import users as user_store

    with db.write() as conn:
        user = user_store.create_user(conn, "member@example.org", "Member", verified=True)
        token = session_store.create_session(conn, user.id, days=1)
    return user, _client(_settings(db, smtp.port), db), token


def test_member_manages_digests_on_settings_page(sqlite_db: Database, smtp: SmtpServer) -> None:
    db = sqlite_db
    user, client, token = _member_client(db, smtp)
    assert client.get("/settings/digests", follow_redirects=False).status_code == 303
    client.cookies.set("pf_session", token)
    assert 'href="/settings/digests"' in client.get("/settings").text  # linked from settings
    page = client.get("/settings/digests")
    assert page.status_code == 200 and "don't receive digests yet" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    form = {"frequency": "daily", "hour": "6", "timezone": "UTC", "sections": ["trending"]}
    assert client.post("/settings/digests", data=form).status_code == 403  # no CSRF token
    r = client.post(
        "/settings/digests", data={**form, "csrf_token": csrf.group(1)}, follow_redirects=False
    )
    assert r.status_code == 303
    with db.read() as conn:
        sub = store_subs.for_user(conn, user.id)
    # A verified member needs no second opt-in.
    assert sub is not None and sub.status == "active" and sub.hour == 6
    assert sub.email == "member@example.org" and smtp.handler.messages == []
    r = client.post(
        "/settings/digests",
        data={"action": "stop", "csrf_token": csrf.group(1)},
        follow_redirects=False,
    )
    with db.read() as conn:
        assert store_subs.for_user(conn, user.id).status == "unsubscribed"  # type: ignore[union-attr]


def test_member_digest_searches_are_follows(sqlite_db: Database, smtp: SmtpServer) -> None:
    from paperfeed.service import follows as follow_service

    db = sqlite_db
    user, client, token = _member_client(db, smtp)
    client.cookies.set("pf_session", token)
    page = client.get("/settings/digests")
    assert 'value="searches"' not in page.text and 'value="follows"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    base = {"frequency": "daily", "hour": "6", "timezone": "UTC", "csrf_token": csrf.group(1)}
    form = {**base, "sections": "trending", "search_0": "diffusion", "search_1": "graph <b>"}
    form["search_1_categories"] = "cs.LG"
    r = client.post("/settings/digests", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    labels = [f.label for f in follow_service.keyword_searches(db, user)]
    assert sorted(labels) == ["diffusion", "graph <b> cat:cs.LG"]
    with db.read() as conn:
        sub = store_subs.for_user(conn, user.id)
    assert sub is not None and sub.searches == [] and sub.sections == ["trending", "follows"]
    page = client.get("/settings/digests")
    assert 'value="graph &lt;b&gt; cat:cs.LG"' in page.text and 'value="diffusion"' in page.text
    # A bad search is refused with the reason and changes nothing.
    bad = {**base, "sections": "trending", "search_0": "diffusion", "search_1": "x year:abc"}
    r = client.post("/settings/digests", data=bad)
    assert r.status_code == 400 and "not valid" in r.text
    assert len(follow_service.keyword_searches(db, user)) == 2
    # Clearing a slot unfollows that search; a meaning search on /settings/follows stays.
    follow_service.follow(db, _settings(db, smtp.port), user, "search", "robots", "meaning")
    keep = {**base, "sections": "follows", "search_1": "graph <b> cat:cs.LG"}
    assert client.post("/settings/digests", data=keep, follow_redirects=False).status_code == 303
    left = {(f.label, f.data["mode"]) for f in follow_service.list_for(db, user)}
    assert left == {("graph <b> cat:cs.LG", "keywords"), ("robots", "meaning")}


def test_list_unsubscribe_header_link_works_end_to_end(
    sqlite_db: Database, smtp: SmtpServer
) -> None:
    db = sqlite_db
    add_papers(db, date(2026, 11, 27), 1)
    sub = add_subscriber(db, "inbox@example.org")
    settings = _settings(db, smtp.port)
    send.run(db, settings, now=NOW)
    [got] = smtp.handler.messages
    header = got.message["List-Unsubscribe"]
    url = re.match(r"<(https://[^>]+)>", header).group(1)  # type: ignore[union-attr]
    assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # What a mail provider does for RFC 8058: a cookieless POST with this exact body.
    r = _client(settings, db).post(
        url.removeprefix("https://papers.example.org"),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 200
    with db.read() as conn:
        assert store_subs.get(conn, sub.id).status == "unsubscribed"  # type: ignore[union-attr]
    # The next day's run composes nothing for this address.
    add_papers(db, date(2026, 11, 30), 1, start=50)
    report = send.run(db, settings, now=datetime(2026, 11, 30, 8))
    assert report.compose.due == 0 and len(smtp.handler.messages) == 1

"""The visitor page cache on the real app: hits, each visitor's own CSRF token, invalidation."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from _web_helpers import seed
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.models import FeedEntry, ImportRecord, Paper
from paperfeed.pipeline import store_records
from paperfeed.store import Database, open_database
from paperfeed.store import sessions as session_store
from paperfeed.store import users as user_store
from paperfeed.web import create_app
from paperfeed.web.auth import SESSION_COOKIE
from paperfeed.web.pagecache import CACHE_HEADER

DAY = "/papers/date/2024-05-29"  # four seeded papers: two pages of two


def _app(db: Database, **overrides: object) -> TestClient:
    settings = Settings(database_url=db.url, page_size=2, site_name="testfeed").with_(**overrides)
    return TestClient(create_app(settings, db))


@pytest.fixture
def app_client(db: Database) -> Iterator[TestClient]:
    """A visitor's client on the seeded site (the cache re-checks the store every 0.2 s)."""
    seed(db)
    with _app(db, visitor_cache_seconds=0.2) as client:
        yield client


def _token(html: str) -> str:
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', html))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def _votes(html: str, title: str) -> int:
    assert title in html
    card = html.split(title, 1)[0].rsplit('<article class="card"', 1)[1]
    return int(re.findall(r'<span class="votes-count">(\d+)</span>', card)[-1])


def _member(client: TestClient, db: Database) -> None:
    with db.write() as conn:
        user = user_store.create_user(conn, "ada@example.org", "Ada", verified=True)
        token = session_store.create_session(conn, user.id, days=1)
    client.cookies.set(SESSION_COOKIE, token)


def test_visitors_share_one_rendering_but_each_gets_its_own_csrf_token(
    app_client: TestClient,
) -> None:
    first = app_client.get(DAY)
    assert first.headers[CACHE_HEADER] == "miss"
    other = TestClient(app_client.app)  # a second browser: its own cookie jar
    second = other.get(DAY)
    assert second.status_code == 200 and second.headers[CACHE_HEADER] == "hit"
    assert "pf_csrf" in second.cookies  # the new visitor gets its nonce cookie as usual
    mine, theirs = _token(first.text), _token(second.text)
    assert mine != theirs
    assert first.text.replace(mine, "T") == second.text.replace(theirs, "T")
    # The token on a cached page is good for that browser's own forms (a wrong password is 400,
    # a bad token would be 403 "Form expired").
    login = {"email": "x@example.org", "password": "not the right password"}
    assert other.post("/login", data={**login, "csrf_token": theirs}).status_code != 403
    assert other.post("/login", data={**login, "csrf_token": mine}).status_code == 403


def test_query_string_and_accept_are_part_of_the_key(app_client: TestClient) -> None:
    one, two = app_client.get(DAY), app_client.get(DAY + "?p=2")
    assert two.headers[CACHE_HEADER] == "miss" and one.text != two.text
    assert app_client.get(DAY + "?p=2").headers[CACHE_HEADER] == "hit"
    other = app_client.get(DAY, headers={"accept": "text/html"})
    assert other.headers[CACHE_HEADER] == "miss"


def test_a_members_vote_shows_at_once_on_the_visitors_cached_page(
    app_client: TestClient, db: Database
) -> None:
    title = "Agents in the Wild"
    before = app_client.get("/")
    before = app_client.get("/")
    assert before.headers[CACHE_HEADER] == "hit"
    member = TestClient(app_client.app)
    _member(member, db)
    page = member.get("/")
    voted = member.post(
        "/vote",
        data={"csrf_token": _token(page.text), "paper_id": "2407.00008", "action": "up"},
        follow_redirects=False,
    )
    assert voted.status_code == 303
    after = app_client.get("/")
    assert after.headers[CACHE_HEADER] == "miss"
    assert _votes(after.text, title) == _votes(before.text, title) + 1


def test_an_import_by_another_process_shows_within_the_recheck_interval(
    app_client: TestClient, db: Database
) -> None:
    assert app_client.get("/").headers[CACHE_HEADER] == "miss"
    assert app_client.get("/").headers[CACHE_HEADER] == "hit"
    # Its own Database object: its commits reach this app only through the store's marks.
    elsewhere = open_database(db.url)
    try:
        paper = Paper(id="2407.00099", title="Imported Later", authors=["B. Writer"])
        entry = FeedEntry(paper.id, date(2024, 7, 1), None, None, "import")
        with elsewhere.write() as conn:
            store_records(conn, [ImportRecord(paper, [entry])])
    finally:
        elsewhere.dispose()
    time.sleep(0.3)
    after = app_client.get("/")
    assert after.headers[CACHE_HEADER] == "miss" and "Imported Later" in after.text


def test_an_import_in_the_same_process_shows_at_once(app_client: TestClient, db: Database) -> None:
    app_client.get("/")
    paper = Paper(id="2407.00098", title="Imported Just Now", authors=["C. Writer"])
    with db.write() as conn:
        store_records(conn, [ImportRecord(paper, [FeedEntry(paper.id, date(2024, 7, 1))])])
    assert "Imported Just Now" in app_client.get("/").text


def test_a_signed_in_member_never_gets_a_visitors_page(
    app_client: TestClient, db: Database
) -> None:
    visitor = app_client.get("/")
    assert app_client.get("/").headers[CACHE_HEADER] == "hit"
    member = TestClient(app_client.app)
    _member(member, db)
    page = member.get("/")
    assert CACHE_HEADER not in page.headers
    assert "Sign out" in page.text and "Sign out" not in visitor.text
    # A session cookie that names nobody is not served the cache either (it may be a member's).
    stale = TestClient(app_client.app, cookies={SESSION_COOKIE: "expired-or-forged"})
    assert CACHE_HEADER not in stale.get("/").headers


def test_zero_seconds_turns_the_cache_off(db: Database, tmp_path: Path) -> None:
    seed(db)
    with _app(db, visitor_cache_seconds=0) as client:
        assert CACHE_HEADER not in client.get("/").headers
        assert CACHE_HEADER not in client.get("/").headers

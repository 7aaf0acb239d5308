"""The community JSON API: huggingface_hub's sort/submitter, and a schemathesis fuzz (no 500s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _web_helpers import seed, serve

from paperfeed.config import Settings
from paperfeed.models import FeedEntry
from paperfeed.ranking.trending import rank
from paperfeed.store import Database
from paperfeed.store import comments as comment_store
from paperfeed.store import feed as feed_store
from paperfeed.store import submissions as submission_store
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store
from paperfeed.web import create_app
from paperfeed.web.ratelimit import RateLimiter


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _community(db: Database) -> None:
    """Seeded feed plus today's community activity: two submissions, votes and a comment."""
    seed(db)
    today = _now().date()
    with db.write() as conn:
        ada = user_store.create_user(conn, "ada@example.org", "Ada", verified=True)
        bob = user_store.create_user(conn, "bob@example.org", "Bob", verified=True)
        feed_store.add_entries(conn, [FeedEntry("2405.00001", today, None, None, "import")])
        submission_store.add_submission(conn, "2406.00006", ada.id, ada.username, day=today)
        submission_store.add_submission(conn, "2407.00008", ada.id, ada.username, day=today)
        for u in (ada, bob):
            vote_store.add_vote(conn, u.id, "2407.00008", at=_now() - timedelta(minutes=5))
        comment_store.add_comment(conn, "2407.00008", bob.id, "Great, see https://x.org")
    rank(db, Settings(database_url=db.url))


def test_huggingface_hub_lists_by_submitter_and_trending(sqlite_db: Database) -> None:
    from huggingface_hub import HfApi

    _community(sqlite_db)
    app = create_app(Settings(database_url=sqlite_db.url), sqlite_db)
    with serve(app) as base:
        api = HfApi(endpoint=base, token=False)
        today = _now().date().isoformat()
        by_votes = [p.id for p in api.list_daily_papers(date=today)]
        # 2405.00001 has 12 imported upvotes but was featured today without recent votes.
        assert by_votes[0] == "2405.00001"
        trending = list(api.list_daily_papers(date=today, sort="trending"))
        assert trending[0].id == "2407.00008"  # two votes minutes ago beat 12 old imported ones
        assert {p.id for p in trending} == set(by_votes)
        mine = list(api.list_daily_papers(date=today, submitter="ada", sort="trending"))
        assert [p.id for p in mine] == ["2407.00008", "2406.00006"]
        assert all(p.submitted_by and p.submitted_by.username == "ada" for p in mine)
        newest = list(api.list_daily_papers(date=today, sort="publishedAt"))
        published = [p.published_at for p in newest]
        assert published == sorted(published, reverse=True)
        info = api.paper_info("2407.00008")
        assert info.upvotes == 5 + 2  # imported plus community votes


def test_rate_limiter_counts_fixed_windows(db: Database) -> None:
    now = [1000.0]
    lim = RateLimiter(db, clock=lambda: now[0])
    assert [lim.hit("b", "k", limit=3, window=60) for _ in range(4)] == [0, 0, 0, 20]
    assert lim.hit("b", "other", limit=3, window=60) == 0  # keys are independent
    assert lim.hit("c", "k", limit=3, window=60) == 0  # and so are buckets
    now[0] = 1020.0  # the next window starts at 1020
    assert lim.hit("b", "k", limit=3, window=60) == 0
    assert lim.hit("b", "k", limit=0, window=60) == 0  # 0 disables the limit
    # A second process (another limiter on the same database) counts against the same limit.
    other = RateLimiter(db, clock=lambda: now[0])
    assert [other.hit("b", "k", limit=3, window=60) for _ in range(3)] == [0, 0, 60]
    assert lim.hit("b", "x" * 5000, limit=1, window=60) == 0  # hostile keys are cut, not errors
    assert lim.hit("b", "x" * 4000, limit=1, window=60) == 60  # ...sharing the cut prefix


def test_rate_limiter_sweeps_closed_windows(db: Database) -> None:
    from paperfeed.store import ratelimits

    with db.write() as conn:
        ratelimits.hit(conn, "b", "old", now=100.0, window=60)
        ratelimits.hit(conn, "b", "new", now=200.0, window=60)
        assert ratelimits.sweep(conn, now=200.0) == 1  # "old" closed at 120
        assert ratelimits.hit(conn, "b", "new", now=200.0, window=60) == (240.0, 2)


def test_login_limit_holds_across_web_processes(db: Database, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    settings = Settings(database_url=db.url, data_dir=str(tmp_path), login_rate_limit=3)
    # Two apps on one database stand for two `serve --workers 2` processes behind one socket.
    a, b = TestClient(create_app(settings, db)), TestClient(create_app(settings, db))
    codes = []
    for i in range(4):
        c = (a, b)[i % 2]
        token = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"csrf_token": token, "email": "mallory@example.org", "password": "guess"}
        codes.append(c.post("/login", data=form).status_code)
    assert 429 not in codes[:3] and codes[3] == 429


@pytest.mark.timeout(240)
def test_fuzz_the_json_api_from_its_openapi_document(tmp_path: Path) -> None:
    """Schemathesis runs EVERY check over every operation of /openapi.json, bounded in time."""
    import time

    import schemathesis
    from hypothesis import HealthCheck, given, settings

    from paperfeed.search.sync import run_index
    from paperfeed.service.tokens import create_token
    from paperfeed.store import open_database

    db = open_database(f"sqlite:///{tmp_path / 'fuzz.db'}")
    _community(db)
    config = Settings(
        database_url=db.url,
        data_dir=str(tmp_path),
        embed_model="hash",
        arxiv_api_url="http://127.0.0.1:9/api/query",  # closed loopback port: never the internet
        http_retries=0,
        write_rate_limit=0,  # the fuzz reaches past the first minute's writes
    )
    run_index(db, config)
    with db.read() as conn:
        ada = user_store.get_by_email(conn, "ada@example.org")
    assert ada is not None
    # Every operation is called as a member with a write token, so the write API is fuzzed past
    # its 401 (tests/test_api_write.py covers requests without a token).
    bearer = {"Authorization": f"Bearer {create_token(db, ada, scope='write').secret}"}
    app = create_app(config, db)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 10
    deadline = time.monotonic() + 150  # the whole fuzz, so the suite stays bounded
    for op in ops:
        budget = max(5, int((deadline - time.monotonic()) / 2))

        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=op.as_strategy())
        def run(case: object) -> None:
            response = case.call(headers=bearer)  # type: ignore[attr-defined]
            try:
                case.validate_response(response)  # type: ignore[attr-defined]  # all checks
            except (Exception, BaseExceptionGroup) as exc:  # collected, reported together below
                failures.append(f"{op.label}: {str(exc)[:400]}")  # noqa: B023

        if time.monotonic() < deadline and budget:
            run()
    assert failures == [], "\n".join(dict.fromkeys(failures))
    db.dispose()


def test_search_results_as_atom(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from lxml import etree

    from paperfeed.search.sync import run_index
    from paperfeed.store import open_database

    db = open_database(f"sqlite:///{tmp_path / 's.db'}")
    seed(db)
    settings = Settings(database_url=db.url, data_dir=str(tmp_path), embed_model="hash")
    run_index(db, settings)
    client = TestClient(create_app(settings, db))
    r = client.get("/search.atom", params={"q": "scaling laws", "mode": "lexical"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = etree.fromstring(r.content).xpath("//a:entry/a:title/text()", namespaces=ns)
    assert titles[0] == "Scaling Laws Revisited"
    assert client.get("/search.atom", params={"q": ""}).status_code == 400
    assert client.get("/search.atom", params={"q": "x", "mode": "bogus"}).status_code == 400
    db.dispose()

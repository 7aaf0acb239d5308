"""Harvesting Hugging Face daily papers from a loopback server replaying recorded API days."""

from __future__ import annotations

import json

import pytest
from _harvest_helpers import (  # noqa: F401 (fixtures)
    HF_DIR,
    Reply,
    Request,
    Upstream,
    no_outside_network_fixture,
    settings_for,
    upstream_fixture,
)

from paperfeed.errors import UpstreamError
from paperfeed.harvest import EXIT_NOTHING_NEW, harvest
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import harvests as harvest_store
from paperfeed.store import signals as signal_store
from paperfeed.store.papers import count_papers, get_paper

pytestmark = pytest.mark.usefixtures("no_outside_network")

DAYS = sorted(p.stem for p in HF_DIR.glob("*.json"))


def recorded_app(req: Request) -> Reply:
    """Serve a recorded day when there is one, an empty list otherwise (a quiet day)."""
    if req.path != "/api/daily_papers":
        return Reply(b"not found", 404)
    path = HF_DIR / f"{req.params.get('date')}.json"
    body = path.read_bytes() if path.exists() else b"[]"
    return Reply(body, content_type="application/json")


def test_one_recorded_day(db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_app
    result = harvest(
        settings_for(upstream, db.url), db, "hf", from_="2026-08-21", until="2026-08-21"
    )
    items = json.loads((HF_DIR / "2026-08-21.json").read_text())
    assert result.counts.new == len(items) == 17 and result.exit_code == 0
    assert upstream.requests[0].params == {"date": "2026-08-21", "limit": "100"}
    with db.read() as conn:
        p = get_paper(conn, "2608.19880")
        entries = feed_store.entries_for(conn, "2608.19880")
        stars = signal_store.latest(conn, "2608.19880")
        state = harvest_store.get_state(conn, "hf")
    assert p is not None and p.upvotes == 163
    assert p.num_comments == 0  # HF's count is the hf_comments signal below
    assert p.github_repo == "https://github.com/google-research/envharness"
    assert p.project_page == "https://envharness.com/"
    assert "EnvHarness" in p.ai_keywords
    assert [(e.day.isoformat(), e.submitted_by, e.source) for e in entries] == [
        ("2026-08-21", "taesiri", "hf")
    ]
    assert stars == {"github_stars": 8.0, "hf_comments": 1.0}
    assert state is not None and json.loads(state)["cursor"] == "2026-08-21"


def test_every_recorded_schema_vintage(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_app
    settings = settings_for(upstream, sqlite_db.url)
    expected: set[str] = set()
    for day in DAYS:
        items = json.loads((HF_DIR / f"{day}.json").read_text())
        expected |= {i["paper"]["id"] for i in items}
        result = harvest(settings, sqlite_db, "hf", from_=day, until=day)
        assert result.counts.errors == 0, result.problems
    with sqlite_db.read() as conn:
        assert count_papers(conn) == len(expected) == 98
        assert feed_store.count_entries(conn) == 98


def test_a_range_with_an_empty_day(db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_app
    result = harvest(
        settings_for(upstream, db.url), db, "hf", from_="2024-10-14", until="2024-10-16"
    )
    assert [r.params["date"] for r in upstream.requests] == [
        "2024-10-14",
        "2024-10-15",
        "2024-10-16",
    ]
    assert result.counts.new == 19 and result.pages == 3
    with db.read() as conn:
        assert json.loads(harvest_store.get_state(conn, "hf") or "{}")["cursor"] == "2024-10-16"


def test_only_empty_days_is_nothing_new(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_app
    result = harvest(
        settings_for(upstream, sqlite_db.url),
        sqlite_db,
        "hf",
        from_="2020-01-01",
        until="2020-01-02",
    )
    assert result.exit_code == EXIT_NOTHING_NEW and result.counts.new == 0


def test_rerun_updates_upvotes_but_adds_nothing(db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_app
    settings = settings_for(upstream, db.url)
    harvest(settings, db, "hf", from_="2025-03-12", until="2025-03-12")
    items = json.loads((HF_DIR / "2025-03-12.json").read_text())
    items[0]["paper"]["upvotes"] += 10
    pid = items[0]["paper"]["id"]
    upstream.script([Reply(json.dumps(items), content_type="application/json")])
    again = harvest(settings, db, "hf", from_="2025-03-12", until="2025-03-12")
    assert again.counts.new == 0 and again.counts.updated == 1
    with db.read() as conn:
        p = get_paper(conn, pid)
        assert p is not None and p.upvotes == items[0]["paper"]["upvotes"]
        assert feed_store.count_entries(conn) == 23


def test_bad_items_are_counted_and_the_rest_stored(sqlite_db: Database, upstream: Upstream) -> None:
    items = json.loads((HF_DIR / "2024-05-29.json").read_text())
    items.append({"paper": {"id": "not-an-id", "title": "x"}})
    items.append({"paper": {"title": "no id"}})
    upstream.script([Reply(json.dumps(items), content_type="application/json")])
    result = harvest(
        settings_for(upstream, sqlite_db.url),
        sqlite_db,
        "hf",
        from_="2024-05-29",
        until="2024-05-29",
    )
    assert result.counts.new == 8 and result.counts.errors == 2
    with sqlite_db.read() as conn:
        run = harvest_store.recent_runs(conn)[0]
    assert run.errors == 2 and "not-an-id" in (run.message or "")


def test_a_malformed_item_is_skipped_and_the_rest_of_its_day_stored(
    db: Database, upstream: Upstream
) -> None:
    # One item of unexpected shape used to end the run in a traceback, storing nothing of the day.
    items = json.loads((HF_DIR / "2026-08-21.json").read_text())
    items[3]["paper"]["title"] = 5
    items[5]["paper"]["authors"] = 7
    items[6]["paper"]["summary"] = "NUL\u0000 and a lone surrogate \ud800 are stripped"
    upstream.script([Reply(json.dumps(items), content_type="application/json")])
    result = harvest(
        settings_for(upstream, db.url), db, "hf", from_="2026-08-21", until="2026-08-21"
    )
    assert result.counts.new == 15 and result.counts.errors == 2
    assert result.problems[0].startswith("hf 2026-08-21 item 4: ")
    assert result.problems[1] == "hf 2026-08-21 item 6: authors must be a list, not int"
    with db.read() as conn:
        run = harvest_store.recent_runs(conn)[0]
        kept = get_paper(conn, items[6]["paper"]["id"])
    assert run.errors == 2 and "item 6" in (run.message or "")
    assert kept is not None and kept.abstract == "NUL and a lone surrogate are stripped"


def test_404_fails_the_run_without_retrying(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.script([Reply(b'{"error":"Not Found"}', 404)])
    with pytest.raises(UpstreamError, match="HTTP 404"):
        harvest(
            settings_for(upstream, sqlite_db.url),
            sqlite_db,
            "hf",
            from_="2026-11-26",
            until="2026-11-26",
        )
    assert len(upstream.requests) == 1
    with sqlite_db.read() as conn:
        assert harvest_store.get_state(conn, "hf") is None


def test_429_then_success(sqlite_db: Database, upstream: Upstream) -> None:
    body = (HF_DIR / "2025-09-10.json").read_bytes()
    upstream.script([Reply(b"rate limited", 429, {"Retry-After": "0"}), Reply(body)])
    result = harvest(
        settings_for(upstream, sqlite_db.url),
        sqlite_db,
        "hf",
        from_="2025-09-10",
        until="2025-09-10",
    )
    assert result.counts.new == 11 and len(upstream.requests) == 2


def test_invalid_json_stores_nothing(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.script([Reply(b'[{"paper": {"id": "2401.0', content_type="application/json")])
    with pytest.raises(UpstreamError, match="not valid JSON"):
        harvest(
            settings_for(upstream, sqlite_db.url),
            sqlite_db,
            "hf",
            from_="2024-05-29",
            until="2024-05-29",
        )
    with sqlite_db.read() as conn:
        assert count_papers(conn) == 0


def test_star_counts_are_observed_at_each_harvest(sqlite_db: Database, upstream: Upstream) -> None:
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from paperfeed.harvest import run_harvest
    from paperfeed.sources.hf_daily import HfDailySource
    from paperfeed.sources.http import HttpClient

    items = json.loads((HF_DIR / "2026-08-21.json").read_text())
    settings = settings_for(upstream, sqlite_db.url)
    upstream.script([Reply(json.dumps(items))])
    with HttpClient(settings) as client:
        src = HfDailySource(
            client,
            settings.hf_api_url,
            from_="2026-08-21",
            until="2026-08-21",
            now=lambda: datetime(2026, 8, 22, 9, 30, tzinfo=UTC),
        )
        run_harvest(sqlite_db, src)
        items[0]["paper"]["githubStars"] = 50
        upstream.script([Reply(json.dumps(items))])
        src.now = lambda: datetime(2026, 8, 23, 9, 10, tzinfo=UTC)
        run_harvest(sqlite_db, src)
        src.now = lambda: datetime(2026, 8, 23, 9, 50, tzinfo=UTC)  # same hour: no new row
        run_harvest(sqlite_db, src)
    with sqlite_db.read() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT observed_at, value FROM signals WHERE paper_id = '2608.19880' "
                "AND kind = 'github_stars' "
                "ORDER BY observed_at"
            )
        ).all()
    assert [(str(r[0])[:16], r[1]) for r in rows] == [
        ("2026-08-21 00:00", 8.0),
        ("2026-08-22 09:00", 8.0),
        ("2026-08-23 09:00", 50.0),
    ]

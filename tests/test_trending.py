"""The trending formula is a pure function; the job writes what it computes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from paperfeed.config import Settings
from paperfeed.models import Paper, Signal
from paperfeed.ranking.trending import (
    TrendingParams,
    compute,
    decay,
    rank,
    star_increments,
    stars_gained,
    trending_hits,
    trending_score,
)
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store
from paperfeed.store import signals as signal_store
from paperfeed.store import trending as trending_store
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store

NOW = datetime(2026, 3, 10, 12, 0)
P = TrendingParams(half_life_hours=24, star_weight=0.1, window_days=14)


def test_decay_halves_each_half_life_and_clamps_future() -> None:
    assert decay(0, 24) == 1.0
    assert decay(24, 24) == pytest.approx(0.5)
    assert decay(72, 24) == pytest.approx(0.125)
    assert decay(-5, 24) == 1.0


def test_recent_votes_outweigh_old_ones() -> None:
    fresh = trending_score([NOW - timedelta(hours=1)] * 3, [], NOW, P)
    old = trending_score([NOW - timedelta(days=3)] * 5, [], NOW, P)
    assert fresh > old
    assert old == pytest.approx(5 * 0.125)
    assert trending_score([], [], NOW, P) == 0.0


def test_half_life_is_configurable() -> None:
    votes = [NOW - timedelta(hours=48)]
    slow = trending_score(votes, [], NOW, TrendingParams(half_life_hours=48))
    fast = trending_score(votes, [], NOW, TrendingParams(half_life_hours=12))
    assert slow == pytest.approx(0.5) and fast == pytest.approx(1 / 16)


def test_stars_count_gains_only_weighted_and_decayed() -> None:
    series = [
        (NOW - timedelta(hours=48), 100.0),
        (NOW - timedelta(hours=24), 140.0),
        (NOW - timedelta(hours=12), 130.0),  # a drop is not negative gain
        (NOW, 150.0),
    ]
    assert star_increments(series) == [(NOW - timedelta(hours=24), 40.0), (NOW, 20.0)]
    assert stars_gained(series) == 60.0
    assert trending_score([], series, NOW, P) == pytest.approx(0.1 * (40 * 0.5 + 20 * 1.0))
    assert trending_score([], [(NOW, 999.0)], NOW, P) == 0.0  # one observation: nothing gained


def test_compute_explains_and_orders() -> None:
    votes = [("a", NOW - timedelta(hours=2)), ("a", NOW - timedelta(hours=30)), ("b", NOW)]
    imported = [("c", date(2026, 3, 10), 4)]  # counted at noon of its feed day
    stars = {"d": [(NOW - timedelta(days=2), 0.0), (NOW, 10.0)]}
    out = compute(votes, imported, stars, NOW, P)
    assert [s.paper_id for s in out] == ["c", "a", "b", "d"]
    by = {s.paper_id: s for s in out}
    assert by["a"].votes_24h == 1 and by["c"].votes_24h == 4
    assert by["d"].stars_gained == 10.0 and by["d"].score == pytest.approx(1.0)


def test_imported_upvotes_weigh_as_many_votes_without_one_term_each() -> None:
    day = date(2026, 3, 10)
    noon = datetime(2026, 3, 10, 12)
    [many] = compute([], [("c", day, 10**9)], {}, NOW, P)  # one term, not a 10**9-item list
    assert many.score == pytest.approx(10**9 * trending_score([noon], [], NOW, P))
    [few] = compute([], [("c", day, 3)], {}, NOW, P)
    assert few.score == pytest.approx(trending_score([noon] * 3, [], NOW, P))


def test_rank_job_writes_scores(db: Database) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.write() as conn:
        paper_store.upsert_papers(
            conn, [Paper(id=f"2401.0000{i}", title=f"P{i}", upvotes=i) for i in range(1, 4)]
        )
        feed_store.add_entries(
            conn,
            [
                feed_store.FeedEntry("2401.00001", now.date(), None, None, "import"),
                feed_store.FeedEntry("2401.00002", date(2000, 1, 1), None, None, "import"),
            ],
        )
        u = user_store.create_user(conn, "r@example.org", "R")
        vote_store.add_vote(conn, u.id, "2401.00003", at=now - timedelta(minutes=5))
        signal_store.add_signals(
            conn,
            [
                Signal("2401.00003", "github_stars", 5, now - timedelta(days=1)),
                Signal("2401.00003", "github_stars", 25, now - timedelta(minutes=1)),
            ],
        )
    n = rank(db, Settings(), now=now)
    assert n == 2  # 2401.00002 was featured in 2000: outside the window
    hits = trending_hits(db)
    assert [h.paper_id for h in hits] == ["2401.00003", "2401.00001"]
    with db.read() as conn:
        s = trending_store.score_of(conn, "2401.00003")
    assert s is not None and s.votes_24h == 1 and s.stars_gained == 20.0
    assert s.score == pytest.approx(decay(5 / 60, 24) + 0.1 * 20 * decay(1 / 60, 24))

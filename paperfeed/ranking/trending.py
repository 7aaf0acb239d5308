"""Trending: a pure time-decayed score over upvotes and GitHub stars, and the job that stores it.

score(p, now) = sum over upvotes v of 2^(-age(v) / H)
              + w * sum over star increments s of gained(s) * 2^(-age(s) / H)

where age is in hours, H is `trending_half_life_hours` and w is `trending_star_weight`. An upvote
cast H hours ago counts half as much as one cast now. Imported upvotes (their times are unknown)
count as cast at noon UTC of the day the paper was first featured. A star increment is the rise
between two consecutive observations of a repository's star count, dated at the later one.
Only events in the last `trending_window_days` are read (older ones weigh < 2^-(window/H)).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from paperfeed.config import Settings
from paperfeed.models import Hit, TrendingScore
from paperfeed.store import Database
from paperfeed.store import trending as trending_store
from paperfeed.store import votes as vote_store

STAR_KIND = "github_stars"


@dataclass(frozen=True, slots=True)
class TrendingParams:
    """The formula's knobs: half-life in hours, weight of one star against one upvote, window."""

    half_life_hours: float = 24.0
    star_weight: float = 0.1
    window_days: float = 14.0

    @classmethod
    def from_settings(cls, settings: Settings) -> TrendingParams:
        """The parameters as configured."""
        return cls(
            settings.trending_half_life_hours,
            settings.trending_star_weight,
            settings.trending_window_days,
        )


def decay(age_hours: float, half_life_hours: float) -> float:
    """The weight of an event age_hours old: 1 now, 1/2 after one half-life (future counts as now)."""
    return float(2.0 ** (-max(age_hours, 0.0) / half_life_hours))


def _age_hours(now: datetime, at: datetime) -> float:
    return (now - at).total_seconds() / 3600.0


def star_increments(series: Sequence[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """Stars gained between consecutive observations, dated at the later one (drops ignored)."""
    ordered = sorted(series)
    return [
        (t1, v1 - v0) for (_, v0), (t1, v1) in zip(ordered, ordered[1:], strict=False) if v1 > v0
    ]


def trending_score(
    vote_times: Iterable[datetime],
    star_series: Sequence[tuple[datetime, float]],
    now: datetime,
    params: TrendingParams,
) -> float:
    """A paper's trending score at `now` from its upvote times and star observations."""
    return _weighted_score(((t, 1) for t in vote_times), star_series, now, params)


def _weighted_score(
    weighted_votes: Iterable[tuple[datetime, int]],
    star_series: Sequence[tuple[datetime, float]],
    now: datetime,
    params: TrendingParams,
) -> float:
    """trending_score over (time, count) pairs, so n imported upvotes of one day cost one term."""
    h = params.half_life_hours
    score = sum(n * decay(_age_hours(now, t), h) for t, n in weighted_votes)
    score += params.star_weight * sum(
        gained * decay(_age_hours(now, t), h) for t, gained in star_increments(star_series)
    )
    return score


def stars_gained(star_series: Sequence[tuple[datetime, float]]) -> float:
    """Total stars gained across a series of observations."""
    return sum(g for _, g in star_increments(star_series))


def imported_vote_time(day: date) -> datetime:
    """When imported upvotes are taken to have been cast: noon UTC of the featured day."""
    return datetime.combine(day, time(12))


def compute(
    votes: Sequence[tuple[str, datetime]],
    imported: Sequence[tuple[str, date, int]],
    stars: dict[str, list[tuple[datetime, float]]],
    now: datetime,
    params: TrendingParams,
) -> list[TrendingScore]:
    """Scores with explanations for every paper that has any input, best first."""
    # (time, count) pairs: imported upvotes share one time per day, and repeating that time n
    # times made one record with 10**9 upvotes take minutes and gigabytes to rank.
    times: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    last_day: dict[str, int] = defaultdict(int)
    day_ago = now - timedelta(hours=24)
    for pid, at in votes:
        times[pid].append((at, 1))
        if at >= day_ago:
            last_day[pid] += 1
    for pid, day, n in imported:
        at = imported_vote_time(day)
        times[pid].append((at, n))
        if at >= day_ago:
            last_day[pid] += n
    out = []
    for pid in set(times) | set(stars):
        series = stars.get(pid, [])
        score = _weighted_score(times.get(pid, []), series, now, params)
        if score > 0:
            out.append(TrendingScore(pid, score, last_day.get(pid, 0), stars_gained(series), now))
    out.sort(key=lambda s: (-s.score, s.paper_id))
    return out


def rank(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """Recompute every trending score from the store and save them; returns how many were stored."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    params = TrendingParams.from_settings(settings)
    since = now - timedelta(days=params.window_days)
    with db.read() as conn:
        votes = vote_store.votes_since(conn, since)
        imported = trending_store.featured_upvotes_since(conn, since.date())
        stars = trending_store.star_series_since(conn, since, STAR_KIND)
    scores = compute(votes, imported, stars, now, params)
    with db.write() as conn:
        return trending_store.replace_scores(conn, scores)


def trending_hits(db: Database, *, limit: int = 50) -> list[Hit]:
    """The stored trending ranking as hits, best first."""
    with db.read() as conn:
        return [Hit(item.paper.id, s.score) for item, s in trending_store.top(conn, limit=limit)]

"""Pick the papers of each subscriber's digest for a period and write them to the outbox.

Sections are pluggable: a `Section` turns (subscription, period) into hits, best first, and
`register_section` adds one (recommendations will plug in here). Composition happens before
any sending: one outbox row per (subscription, period), unique, so running it twice is harmless.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.digest.latex import one_line
from paperfeed.errors import PaperfeedError
from paperfeed.models import Hit
from paperfeed.store import Database
from paperfeed.store import feed as store_feed
from paperfeed.store import outbox as store_outbox
from paperfeed.store import subscriptions as store_subs
from paperfeed.store.subscriptions import Subscription

log = logging.getLogger(__name__)

BATCH = 500  # subscriptions composed per transaction
CANDIDATES = 200  # hits fetched per shared section: enough left after removing what was sent


@dataclass(frozen=True, slots=True)
class Period:
    """One scheduled digest slot: its key, local date, the feed days it covers and when it was due."""

    key: str  # "d:2026-11-27" (daily) or "w:2026-W48" (weekly); unique per subscription
    day: date  # the local date of the slot
    start: date  # first feed day covered
    end: date  # last feed day covered
    due_at: datetime  # naive UTC


def zone(name: str) -> ZoneInfo:
    """The time zone by IANA name, UTC when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _utc(local_day: date, hour: int, tz: ZoneInfo) -> datetime:
    return (
        datetime.combine(local_day, time(hour % 24), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
    )


def period_for(
    frequency: str,
    tz_name: str,
    hour: int,
    now: datetime,
    *,
    weekly_day: int = 0,
    as_of: date | None = None,
) -> Period:
    """The latest slot at or before `now` (naive UTC): weekdays at `hour` or weekly on `weekly_day`.

    With `as_of`, the slot of that local date instead (a re-run or a backfill of one day).
    """
    tz = zone(tz_name)
    local_now = now.replace(tzinfo=UTC).astimezone(tz)
    if as_of is not None:
        day = as_of
    else:
        day = local_now.date()
        if local_now.hour < hour:
            day -= timedelta(days=1)
    if frequency == "weekly":
        day -= timedelta(days=(day.weekday() - weekly_day) % 7)
        iso = day.isocalendar()
        return Period(
            f"w:{iso.year}-W{iso.week:02d}", day, day - timedelta(days=7), day, _utc(day, hour, tz)
        )
    while day.weekday() >= 5:  # daily digests go out Monday to Friday
        day -= timedelta(days=1)
    prev = day - timedelta(days=1)
    while prev.weekday() >= 5:
        prev -= timedelta(days=1)
    # From the previous slot's day: papers featured after that digest left still get in, and
    # sent_items stops any paper from appearing twice.
    return Period(f"d:{day.isoformat()}", day, prev, day, _utc(day, hour, tz))


@dataclass
class ComposeContext:
    """What sections share during one compose run: the database, settings and a result cache."""

    db: Database
    settings: Settings
    now: datetime
    cache: dict[Any, list[Hit]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def cached(self, key: Any, make: Callable[[], list[Hit]]) -> list[Hit]:
        """Compute a candidate list once per run (most subscribers share each section's input)."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]


class Section(Protocol):
    """A digest section: a key, a title, and its candidate papers for one subscriber and period."""

    key: str
    title: str

    def parts(
        self, ctx: ComposeContext, sub: Subscription, period: Period
    ) -> list[tuple[str, list[Hit]]]:
        """(heading, hits best first) pairs; most sections return one pair."""
        ...


class FeaturedSection:
    """The papers featured on the feed during the period, most upvoted first."""

    key = "featured"
    title = "Featured papers"

    def parts(
        self, ctx: ComposeContext, sub: Subscription, period: Period
    ) -> list[tuple[str, list[Hit]]]:
        """The period's featured papers."""

        def make() -> list[Hit]:
            with ctx.db.read() as conn:
                items = store_feed.feed_between(conn, period.start, period.end, limit=CANDIDATES)
            return [Hit(i.paper.id, float(i.paper.upvotes)) for i in items]

        title = "Today's featured papers" if period.key.startswith("d:") else "This week's papers"
        return [(title, ctx.cached(("featured", period.start, period.end), make))]


class TrendingSection:
    """Trending papers from the community ranking; falls back to the most upvoted recent papers."""

    key = "trending"
    title = "Trending papers"

    def parts(
        self, ctx: ComposeContext, sub: Subscription, period: Period
    ) -> list[tuple[str, list[Hit]]]:
        """The current trending list."""
        return [(self.title, ctx.cached(("trending", period.end), lambda: self._hits(ctx, period)))]

    def _hits(self, ctx: ComposeContext, period: Period) -> list[Hit]:
        try:
            from paperfeed.ranking.trending import trending_hits

            hits = trending_hits(ctx.db, limit=CANDIDATES)
        except (ImportError, sa.exc.SQLAlchemyError) as exc:  # community part not installed
            log.warning("trending scores unavailable (%s); using most upvoted recent papers", exc)
            hits = []
        if hits:
            return hits
        # No scores computed yet (`paperfeed rank` never ran): the last two weeks' top papers.
        with ctx.db.read() as conn:
            items = store_feed.feed_between(
                conn, period.end - timedelta(days=14), period.end, limit=CANDIDATES
            )
        return [Hit(i.paper.id, float(i.paper.upvotes)) for i in items]


class SavedSearchSection:
    """New papers matching each saved search (query text plus filters)."""

    key = "searches"
    title = "Your saved searches"

    def parts(
        self, ctx: ComposeContext, sub: Subscription, period: Period
    ) -> list[tuple[str, list[Hit]]]:
        """One part per saved search."""
        out = []
        for s in sub.searches[:10]:
            query = str(s.get("query") or "").strip()
            filters = s.get("filters") or {}
            if not query and not filters:
                continue
            key = ("search", query, repr(sorted(filters.items())), period.start)
            hits = ctx.cached(key, functools.partial(self._hits, ctx, query, filters, period))
            out.append((f"New for “{one_line(query, 80) or 'your filters'}”", hits))
        return out

    def _hits(
        self, ctx: ComposeContext, query: str, filters: dict[str, Any], p: Period
    ) -> list[Hit]:
        try:
            from paperfeed.search.service import search
        except ImportError:
            return []
        # Recent papers only: published up to a week before the period (arXiv lags the feed).
        since = p.start - timedelta(days=7)
        try:
            res = search(
                ctx.db,
                ctx.settings,
                query,
                mode="lexical",
                limit=50,
                sort="relevance",
                categories=list(filters.get("categories") or []) or None,
                authors=list(filters.get("authors") or []) or None,
                date_from=str(filters.get("date_from") or since.isoformat()),
                date_to=filters.get("date_to") or None,
            )
        except PaperfeedError as exc:  # index not built or a bad stored query: skip the section
            ctx.notes.append(f"saved search {query!r} skipped: {exc}")
            return []
        return list(res.hits)


SECTIONS: dict[str, Section] = {}
SECTION_ORDER = ["trending", "featured", "searches", "recommendations"]


def register_section(section: Section) -> None:
    """Add a section provider under its key (e.g. recommendations, once they exist)."""
    SECTIONS[section.key] = section


for _s in (TrendingSection(), FeaturedSection(), SavedSearchSection()):
    register_section(_s)


# --- recommend: a member's cached recommendations (refreshed by the worker's 'recommend' job) ---
class RecommendationsSection:
    """Papers recommended to the subscriber's member account (empty for anonymous subscribers)."""

    key = "recommendations"
    title = "Recommended for you"

    def parts(
        self, ctx: ComposeContext, sub: Subscription, period: Period
    ) -> list[tuple[str, list[Hit]]]:
        """The member's cached overall recommendations, best first."""
        if sub.user_id is None:
            return []
        from paperfeed.recommend.service import hits_for

        return [(self.title, hits_for(ctx.db, ctx.settings, sub.user_id, limit=CANDIDATES))]


register_section(RecommendationsSection())


# --- follows: one part per followed thing with papers matched since the last digest ---
FOLLOW_WINDOW = timedelta(days=14)  # matches older than this are old news even if never mailed


class FollowsSection:
    """New papers matched for each of the member's follows (sent_items stops repeats)."""

    key = "follows"
    title = "What you follow"

    def parts(
        self, ctx: ComposeContext, sub: Subscription, period: Period
    ) -> list[tuple[str, list[Hit]]]:
        """One part per follow with matches, most recent match first."""
        if sub.user_id is None:
            return []
        from paperfeed.store import follows as store_follows

        with ctx.db.read() as conn:
            matches = store_follows.matches_for(
                conn, sub.user_id, since=ctx.now - FOLLOW_WINDOW, limit=CANDIDATES * 5
            )
        parts: dict[int, tuple[str, list[Hit]]] = {}
        for m in matches:
            heading = f"New versions: {m.label}" if m.version else f"New for {m.label}"
            parts.setdefault(m.follow_id, (one_line(heading, 100), []))[1].append(
                Hit(m.paper_id, float(m.id))
            )
        return list(parts.values())


register_section(FollowsSection())


def section_names() -> list[str]:
    """Keys of the sections a subscriber can choose, in digest order."""
    return [k for k in SECTION_ORDER if k in SECTIONS] + sorted(
        k for k in SECTIONS if k not in SECTION_ORDER
    )


@dataclass(slots=True)
class Composed:
    """One subscriber's digest before it is written to the outbox."""

    subscription: Subscription
    period: Period
    sections: list[dict[str, Any]]  # [{"key", "title", "items": [{"id", "score"}]}]

    @property
    def count(self) -> int:
        """How many papers it holds."""
        return sum(len(s["items"]) for s in self.sections)


def compose_one(
    ctx: ComposeContext, sub: Subscription, period: Period, already_sent: set[str]
) -> Composed:
    """Pick up to N new papers per section, never one already sent or repeated across sections."""
    limit = max(1, ctx.settings.digest_items_per_section)
    taken = set(already_sent)
    sections: list[dict[str, Any]] = []
    chosen = [k for k in section_names() if k in sub.sections]
    for key in chosen:
        for title, hits in SECTIONS[key].parts(ctx, sub, period):
            items = []
            for h in hits:
                if h.paper_id in taken:
                    continue
                taken.add(h.paper_id)
                items.append({"id": h.paper_id, "score": round(float(h.score), 4)})
                if len(items) >= limit:
                    break
            if items:
                sections.append({"key": key, "title": title, "items": items})
    return Composed(sub, period, sections)


@dataclass(slots=True)
class ComposeReport:
    """What one compose run did."""

    due: int = 0  # subscriptions whose current period had no outbox row
    created: int = 0  # pending rows written
    skipped: int = 0  # nothing new: written as 'skipped' so the period is done
    already: int = 0  # someone else composed it first
    not_yet: int = 0  # slot is before the subscription was confirmed
    notes: list[str] = field(default_factory=list)
    preview: list[Composed] = field(default_factory=list)  # with dry_run


def site_domain(settings: Settings) -> str:
    """The host part of base_url, used in Message-IDs and List-Id."""
    return (urlsplit(settings.base_url).hostname or "localhost").lower()


def subject_for(settings: Settings, c: Composed) -> str:
    """The digest subject line: site, kind and date; a single line by construction."""
    kind = "Weekly digest" if c.period.key.startswith("w:") else "Daily digest"
    n = c.count
    return one_line(
        f"{settings.site_name} {kind}, {c.period.day:%b} {c.period.day.day}: "
        f"{n} new paper{'s' if n != 1 else ''}",
        180,
    )


def compose_due(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    as_of: date | None = None,
    dry_run: bool = False,
) -> ComposeReport:
    """Write an outbox row for every active subscription whose current period has none yet."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    ctx = ComposeContext(db, settings, now)
    report = ComposeReport()
    domain = site_domain(settings)
    after = 0
    while True:
        with db.read() as conn:
            batch = store_subs.active_batch(conn, after_id=after, limit=BATCH)
            if not batch:
                break
            after = batch[-1].id
            periods: dict[int, Period] = {}
            for sub in batch:
                p = period_for(
                    sub.frequency,
                    sub.timezone,
                    sub.hour,
                    now,
                    weekly_day=settings.digest_weekly_day,
                    as_of=as_of,
                )
                # No digest for a slot that passed before the address was confirmed.
                if as_of is None and sub.confirmed_at is not None and p.due_at < sub.confirmed_at:
                    report.not_yet += 1
                    continue
                periods[sub.id] = p
            have = store_outbox.existing_periods(conn, [(i, p.key) for i, p in periods.items()])
            todo = [s for s in batch if s.id in periods and (s.id, periods[s.id].key) not in have]
            sent = store_subs.sent_paper_ids(conn, [s.id for s in todo])
        report.due += len(todo)
        composed = [compose_one(ctx, s, periods[s.id], sent[s.id]) for s in todo]
        if dry_run:
            report.preview.extend(composed)
            report.created += sum(1 for c in composed if c.count)
            report.skipped += sum(1 for c in composed if not c.count)
            continue
        rows = []
        for c in composed:
            token = secrets.token_urlsafe(18)
            empty = c.count == 0
            rows.append(
                {
                    "subscription_id": c.subscription.id,
                    "period": c.period.key,
                    "token": token,
                    "message_id": f"<digest.{token}@{domain}>",
                    "to_addr": c.subscription.email,
                    "subject": subject_for(settings, c),
                    "content": {"period": c.period.key, "sections": c.sections},
                    "items": c.count,
                    "status": "skipped" if empty and settings.digest_skip_empty else "pending",
                }
            )
        with db.write() as conn:
            ids = store_outbox.insert_many(conn, rows)
            store_subs.add_sent_items(
                conn,
                [
                    (c.subscription.id, item["id"], ids[(c.subscription.id, c.period.key)])
                    for c in composed
                    if (c.subscription.id, c.period.key) in ids
                    for s in c.sections
                    for item in s["items"]
                ],
                now=now,
            )
        for r in rows:
            if (r["subscription_id"], r["period"]) not in ids:
                report.already += 1
            elif r["status"] == "skipped":
                report.skipped += 1
            else:
                report.created += 1
    report.notes = ctx.notes
    return report


def normalize_sections(values: Sequence[str]) -> list[str]:
    """The known section keys among `values`, in digest order (unknown names are dropped)."""
    wanted = {v.strip().lower() for v in values}
    return [k for k in section_names() if k in wanted]

"""View functions shared by the HTML pages and the JSON API: parse arguments, query the store."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import Query

from paperfeed.errors import InvalidId, NotFound, PaperfeedError
from paperfeed.models import FeedEntry, FeedItem, Paper
from paperfeed.normalize import parse_paper_id
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import identities as identity_store
from paperfeed.store import papers as paper_store
from paperfeed.store import signals as signal_store

MAX_API_LIMIT = 100  # the Hugging Face daily_papers API caps limit at 100 too


# Typed paging parameters of the JSON list routes: FastAPI checks them and documents them.
Page = Annotated[int, Query(ge=0, le=999_999, description="Page number, from 0")]
Limit = Annotated[int, Query(ge=1, le=MAX_API_LIMIT, description="Items per page")]


class BadRequest(PaperfeedError, ValueError):
    """A query parameter is malformed; the message says what is expected."""


class InvalidPeriod(BadRequest):
    """A date, ISO week or month string is malformed or impossible."""


class CanonicalRedirect(PaperfeedError):
    """The requested paper id is valid but not canonical (versioned, URL, upper case)."""

    def __init__(self, canonical: str) -> None:
        super().__init__(f"the canonical id is {canonical}")
        self.canonical = canonical


_DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    """A day, ISO week or month of the feed, with its first and last day."""

    kind: str  # "day", "week" or "month"
    start: date
    end: date

    @property
    def key(self) -> str:
        """The period as written in URLs: 2024-05-29, 2024-W22 or 2024-05."""
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year:04d}-W{week:02d}"
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def label(self) -> str:
        """A human heading such as 'May 29, 2024', 'Week 22, 2024' or 'May 2024'."""
        if self.kind == "day":
            return f"{self.start:%b} {self.start.day}, {self.start.year}"
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"Week {week}, {year}"
        return f"{self.start:%B} {self.start.year}"


def day_period(day: date) -> Period:
    """The period of one day."""
    return Period("day", day, day)


def week_period(day: date) -> Period:
    """The ISO week (Monday to Sunday) containing a day."""
    start = day - timedelta(days=day.weekday())
    # The last ISO week of year 9999 runs past date.max: clamp rather than overflow.
    end = start + timedelta(days=6) if start <= date.max - timedelta(days=6) else date.max
    return Period("week", start, end)


def month_period(day: date) -> Period:
    """The calendar month containing a day."""
    start = day.replace(day=1)
    if start.month == 12:
        return Period("month", start, start.replace(day=31))
    return Period("month", start, start.replace(month=start.month + 1) - timedelta(days=1))


def parse_day(text: str) -> Period:
    """Parse YYYY-MM-DD into a day period, or raise InvalidPeriod."""
    m = _DAY_RE.match(text or "")
    try:
        if not m:
            raise ValueError
        return day_period(date(int(m[1]), int(m[2]), int(m[3])))
    except ValueError:
        raise InvalidPeriod(f"not a date: {_shown(text)} (expected YYYY-MM-DD)") from None


def parse_week(text: str, *, roll_over: bool = False) -> Period:
    """Parse an ISO week YYYY-Www into a week period, or raise InvalidPeriod.

    With roll_over (the API, whose schema documents weeks 01-53), a 52-week year's W53 is the
    week after its W52 rather than an error.
    """
    m = _WEEK_RE.match(text or "")
    try:
        if not m:
            raise ValueError
        year, week = int(m[1]), int(m[2])
        if roll_over and week == 53 and date(year, 12, 28).isocalendar()[1] == 52:
            monday = date.fromisocalendar(year, 52, 1)
            if monday > date.max - timedelta(days=7):
                return Period("week", date.max, date.max)  # past 9999-12-31: an empty week
            return week_period(monday + timedelta(days=7))
        return week_period(date.fromisocalendar(year, week, 1))
    except ValueError:
        raise InvalidPeriod(f"not an ISO week: {_shown(text)} (expected e.g. 2025-W09)") from None


def parse_month(text: str) -> Period:
    """Parse YYYY-MM into a month period, or raise InvalidPeriod."""
    m = _MONTH_RE.match(text or "")
    try:
        if not m:
            raise ValueError
        return month_period(date(int(m[1]), int(m[2]), 1))
    except ValueError:
        raise InvalidPeriod(f"not a month: {_shown(text)} (expected YYYY-MM)") from None


def parse_page(text: str | None, *, first: int) -> int:
    """A 0-based page index from a page parameter counted from `first` (0 for the API, 1 for pages)."""
    if text is None or text == "":
        return 0
    if not re.fullmatch(r"\d{1,6}", text) or int(text) < first:
        raise BadRequest(f"not a page number: {_shown(text)} (expected an integer >= {first})")
    return int(text) - first


def parse_limit(text: str | None, default: int) -> int:
    """The number of items per page, between 1 and MAX_API_LIMIT."""
    if text is None or text == "":
        return default
    if not re.fullmatch(r"\d{1,6}", text) or not 1 <= int(text) <= MAX_API_LIMIT:
        raise BadRequest(f"not a limit: {_shown(text)} (expected 1 to {MAX_API_LIMIT})")
    return int(text)


def _shown(text: str | None) -> str:
    text = text or ""
    return repr(text if len(text) <= 40 else text[:37] + "...")


@dataclass(slots=True)
class FeedView:
    """One page of a day, week or month of the feed, with its neighbours."""

    period: Period | None  # None when the store has no feed entries at all
    items: list[FeedItem] = field(default_factory=list)
    total: int = 0
    page: int = 0  # 0-based
    page_size: int = 50
    prev: Period | None = None
    next: Period | None = None

    @property
    def pages(self) -> int:
        """How many pages the period has (at least 1)."""
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def first_rank(self) -> int:
        """The 1-based rank of the first item on this page."""
        return self.page * self.page_size + 1


def _neighbours(db: Database, period: Period) -> tuple[Period | None, Period | None]:
    """The nearest earlier and later periods of the same kind that have entries."""
    with db.read() as conn:
        before = feed_store.day_before(conn, period.start)
        after = feed_store.day_after(conn, period.end)
    make = {"day": day_period, "week": week_period, "month": month_period}[period.kind]
    return (make(before) if before else None, make(after) if after else None)


def feed_view(
    db: Database,
    period: Period,
    *,
    page: int = 0,
    page_size: int = 50,
    submitted_by: str | None = None,
) -> FeedView:
    """The papers featured in a period (optionally by one submitter), most upvoted first."""
    with db.read() as conn:
        total = feed_store.count_between(conn, period.start, period.end, submitted_by=submitted_by)
        items = feed_store.feed_between(
            conn,
            period.start,
            period.end,
            limit=page_size,
            offset=page * page_size,
            submitted_by=submitted_by,
        )
    prev, nxt = _neighbours(db, period)
    return FeedView(period, items, total, page, page_size, prev, nxt)


def newest_items(
    db: Database, *, submitted_by: str | None, page: int = 0, page_size: int = 50
) -> tuple[list[FeedItem], int]:
    """Featured papers over all days (optionally by one submitter), newest day first."""
    start, end = date.min, date.max
    with db.read() as conn:
        total = feed_store.count_between(conn, start, end, submitted_by=submitted_by)
        items = feed_store.feed_between(
            conn,
            start,
            end,
            limit=page_size,
            offset=page * page_size,
            submitted_by=submitted_by,
            newest_first=True,
        )
    return items, total


def latest_period(db: Database) -> Period | None:
    """The latest day with featured papers, or None for an empty store."""
    with db.read() as conn:
        day = feed_store.latest_day(conn)
    return day_period(day) if day else None


def latest_view(db: Database, *, page: int = 0, page_size: int = 50) -> FeedView:
    """The latest day's feed (an empty view when nothing was imported yet)."""
    period = latest_period(db)
    if period is None:
        return FeedView(None, page_size=page_size)
    return feed_view(db, period, page=page, page_size=page_size)


@dataclass(slots=True)
class PaperView:
    """One paper with the days it was featured and its external signals."""

    paper: Paper
    days: list[date]
    signals: dict[str, float]
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    entry: FeedEntry | None = None  # the first feed entry, with the submitter's details
    # Every (kind, value) identity: arXiv id, bioRxiv/medRxiv DOI, journal DOI (m0017).
    identities: list[tuple[str, str]] = field(default_factory=list)


def resolve_id(raw: str) -> str:
    """The canonical id for a requested id or URL; InvalidId when it is not an arXiv id."""
    if len(raw) > 200:
        raise InvalidId("not an arXiv id: too long")
    return parse_paper_id(raw).id


def paper_view(db: Database, raw_id: str, *, redirect: bool = True) -> PaperView:
    """A paper by id; CanonicalRedirect for non-canonical forms when redirect is set."""
    if len(raw_id) > 200:
        raise InvalidId("not an arXiv id: too long")
    asked = parse_paper_id(raw_id)
    canonical = asked.id
    if redirect and canonical != raw_id:
        raise CanonicalRedirect(canonical)
    with db.read() as conn:
        paper = paper_store.get_paper(conn, canonical)
        if paper is None:
            # A record linked to another source's paper (a preprint DOI of an arXiv paper).
            linked = identity_store.canonical(conn, canonical)
            if redirect and linked and linked != canonical:
                raise CanonicalRedirect(linked)
            raise NotFound(f"no paper {canonical} in this feed")
        known_as = identity_store.identities_for(conn, canonical)
        if asked.version and asked.version > paper.version:
            # A version that never existed names no paper (v7 of a paper at v1 is a typo).
            raise NotFound(
                f"{canonical} has no version {asked.version}: the latest is v{paper.version}"
            )
        entries = feed_store.entries_for(conn, canonical)
        signals = signal_store.latest(conn, canonical)
    first = entries[0] if entries else None
    return PaperView(
        paper,
        [e.day for e in entries],
        signals,
        submitted_by=first.submitted_by if first else None,
        submitted_at=(first.submitted_at if first else None),
        entry=first,
        identities=known_as,
    )

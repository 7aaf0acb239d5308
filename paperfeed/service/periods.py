"""Days, ISO weeks and months of the feed, and the paging arguments of its lists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from paperfeed.errors import PaperfeedError

MAX_API_LIMIT = 100  # the Hugging Face daily_papers API caps limit at 100 too


class BadRequest(PaperfeedError, ValueError):
    """A query parameter is malformed; the message says what is expected."""


class InvalidPeriod(BadRequest):
    """A date, ISO week or month string is malformed or impossible."""


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

"""The sitemap: which feed days and paper pages search engines are told about, in protocol-sized parts."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime

from paperfeed.errors import NotFound
from paperfeed.service.periods import InvalidPeriod, month_period, parse_month
from paperfeed.store import Database
from paperfeed.store import feed as feed_store

# The sitemap protocol's limit of URLs in one file (sitemaps.org); a larger month is split.
PART_SIZE = 50_000
_PART_RE = re.compile(r"^(\d{4}-\d{2})(?:-(\d{1,4}))?$")


@dataclass(frozen=True, slots=True)
class Part:
    """One file of paper pages: a month of feed days, or a numbered slice of a large month."""

    name: str  # "2026-08", then "2026-08-2", "2026-08-3" for the slices after the first
    lastmod: datetime | None


@dataclass(frozen=True, slots=True)
class Day:
    """A feed day and when one of its papers last changed."""

    day: date
    lastmod: datetime | None


@dataclass(frozen=True, slots=True)
class Sitemap:
    """Everything the sitemap index lists: the feed days and the parts of paper pages."""

    days: list[Day]
    parts: list[Part]


def sitemap(db: Database) -> Sitemap:
    """The feed days and the paper-page parts, oldest first."""
    with db.read() as conn:
        counts = feed_store.day_counts(conn)
    months: dict[date, tuple[int, datetime | None]] = {}
    for day, n, changed in counts:
        start = month_period(day).start
        total, last = months.get(start, (0, None))
        months[start] = (total + n, _later(last, changed))
    parts = []
    for start, (entries, changed) in months.items():
        # Entries can exceed distinct papers (a paper featured twice in a month), so a last
        # slice may come out short; never one too few.
        for i in range(1, max(1, math.ceil(entries / PART_SIZE)) + 1):
            key = start.strftime("%Y-%m")
            parts.append(Part(key if i == 1 else f"{key}-{i}", changed))
    return Sitemap([Day(d, changed) for d, _, changed in counts], parts)


def part_papers(db: Database, name: str) -> list[tuple[str, datetime | None]]:
    """The paper ids of one part with when each last changed; NotFound for a name none has."""
    m = _PART_RE.match(name)
    try:
        month = parse_month(m.group(1)) if m else None
    except InvalidPeriod:
        month = None
    index = int(m.group(2)) if m and m.group(2) else 1
    if month is None or index < 1 or (m and m.group(2) == "1"):
        raise NotFound(f"no sitemap part {name[:40]!r}: parts are named like 2026-08 or 2026-08-2")
    with db.read() as conn:
        found = feed_store.featured_ids(
            conn, month.start, month.end, limit=PART_SIZE, offset=(index - 1) * PART_SIZE
        )
    if not found:
        raise NotFound(f"no sitemap part {name}: no paper featured in {month.key} is left for it")
    return found


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)

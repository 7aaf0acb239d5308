"""The sitemap: which feed days and paper pages search engines are told about, in protocol-sized parts."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from paperfeed.errors import NotFound
from paperfeed.service.periods import InvalidPeriod, parse_month
from paperfeed.store import Database
from paperfeed.store import feed as feed_store

# The sitemap protocol's limit of URLs in one file (sitemaps.org); a larger month is split.
PART_SIZE = 50_000
# A month's first part has no number; the slices after it are -2, -3, ... (one spelling each).
_PART_RE = re.compile(r"^(\d{4}-\d{2})(?:-([2-9]|[1-9]\d{1,3}))?$")


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

    @property
    def days_lastmod(self) -> datetime | None:
        """When a paper of any feed day last changed."""
        return latest(d.lastmod for d in self.days)


def sitemap(db: Database) -> Sitemap:
    """The feed days and the paper-page parts, oldest first."""
    with db.read() as conn:
        counts = feed_store.day_counts(conn)
    months: dict[str, list[tuple[int, datetime | None]]] = {}
    for day, n, changed in counts:
        months.setdefault(f"{day:%Y-%m}", []).append((n, changed))
    parts = []
    for key, days in months.items():
        changed = latest(c for _, c in days)
        # Entries can exceed distinct papers (a paper featured twice in a month), so a last
        # slice may come out short; never one too few.
        for i in range(1, max(1, math.ceil(sum(n for n, _ in days) / PART_SIZE)) + 1):
            parts.append(Part(key if i == 1 else f"{key}-{i}", changed))
    return Sitemap([Day(d, changed) for d, _, changed in counts], parts)


def part_papers(db: Database, name: str) -> list[tuple[str, datetime | None]]:
    """The paper ids of one part with when each last changed; NotFound for a name none has."""
    m = _PART_RE.match(name)
    try:
        month = parse_month(m.group(1)) if m else None
    except InvalidPeriod:
        month = None
    if m is None or month is None:
        raise NotFound(f"no sitemap part {name[:40]!r}: parts are named like 2026-08 or 2026-08-2")
    index = int(m.group(2) or 1)
    with db.read() as conn:
        found = feed_store.featured_ids(
            conn, month.start, month.end, limit=PART_SIZE, offset=(index - 1) * PART_SIZE
        )
    if not found:
        raise NotFound(f"no sitemap part {name}: no paper featured in {month.key} is left for it")
    return found


def latest(values: Iterable[datetime | None]) -> datetime | None:
    """The latest of some times, None when none is known."""
    return max((v for v in values if v is not None), default=None)

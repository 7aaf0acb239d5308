"""Paper sources and their categories: the filters feeds and search take, and the lists to browse."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.models import SOURCE_NAMES, FeedFilter
from paperfeed.service.periods import BadRequest
from paperfeed.sources.biorxiv import SERVERS, categories_of
from paperfeed.store import Database
from paperfeed.store import papers as paper_store

SOURCES = tuple(SOURCE_NAMES)  # arxiv, biorxiv, medrxiv
MAX_VALUES = 20  # sources and categories one request may name
_CATEGORY = re.compile(r"[a-z][a-z0-9\-]*(?:\.[a-z0-9\-]+)?")


class BadFilter(BadRequest):
    """A source or category filter names something unknown; the message lists what is valid."""


def _values(raw: Iterable[str | None] | str | None) -> list[str]:
    items = [raw] if isinstance(raw, str) or raw is None else list(raw)
    out: list[str] = []
    for item in items:
        out.extend(v.strip().lower() for v in (item or "").split(",") if v.strip())
    if len(out) > MAX_VALUES:  # counted before duplicates drop: the request is bounded as sent
        raise BadFilter(f"at most {MAX_VALUES} sources or categories in one request")
    return list(dict.fromkeys(out))


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_sources(raw: Iterable[str | None] | str | None) -> tuple[str, ...]:
    """Source names from a parameter (comma-separated or repeated); BadFilter for unknown ones."""
    values = _values(raw)
    if len(values) > MAX_VALUES:
        raise BadFilter(f"at most {MAX_VALUES} sources")
    for v in values:
        if v not in SOURCES:
            raise BadFilter(f"unknown source {_shown(v)}: use one of {', '.join(SOURCES)}")
    return tuple(values)


def parse_categories(raw: Iterable[str | None] | str | None) -> tuple[str, ...]:
    """Categories from a parameter, lower case ('cs.cl', 'biorxiv.genomics', 'medrxiv')."""
    values = [v.rstrip("*").rstrip(".") for v in _values(raw)]
    if len(values) > MAX_VALUES:
        raise BadFilter(f"at most {MAX_VALUES} categories")
    for v in values:
        if not _CATEGORY.fullmatch(v):
            raise BadFilter(
                f"not a category: {_shown(v)} (expected e.g. cs.CL, biorxiv.genomics or medrxiv)"
            )
    return tuple(values)


def feed_filter(
    source: Iterable[str | None] | str | None, category: Iterable[str | None] | str | None
) -> FeedFilter:
    """The filter of a request's source= and cat= parameters."""
    return FeedFilter(parse_sources(source), parse_categories(category))


def instance_filter(settings: Settings) -> FeedFilter:
    """What this instance shows at all, from PAPERFEED_SOURCES and PAPERFEED_CATEGORIES."""
    try:
        sources = parse_sources(settings.sources)
        cats = parse_categories(settings.categories)
    except BadFilter as exc:
        raise ConfigError(f"PAPERFEED_SOURCES / PAPERFEED_CATEGORIES: {exc}") from None
    # Every source listed is no narrowing at all: keep the filter empty (the cheaper query).
    return FeedFilter(() if set(sources) == set(SOURCES) else sources, cats)


def request_filter(
    settings: Settings,
    source: Iterable[str | None] | str | None,
    category: Iterable[str | None] | str | None,
) -> FeedFilter:
    """A request's filter within the instance's (the parameters may narrow, never widen)."""
    return feed_filter(source, category).within(instance_filter(settings))


def enabled(settings: Settings, source: str) -> bool:
    """True when this instance harvests a source (hf papers are arXiv papers)."""
    sources = instance_filter(settings).sources
    return not sources or ("arxiv" if source == "hf" else source) in sources


def harvest_subjects(settings: Settings, server: str) -> list[str | None]:
    """The subjects the scheduled harvest of one server asks for ([None] means every subject)."""
    explicit = [c.strip() for c in settings.harvest_biorxiv_categories.split(",") if c.strip()]
    if explicit:
        return list(explicit)
    cats = instance_filter(settings).categories
    if not cats or server in cats:
        return [None]
    labels = dict(categories_of(server))
    return [labels[c].lower() for c in cats if c in labels]


# --- browsing the categories ---


@dataclass(frozen=True, slots=True)
class CategoryCount:
    """One browsable category with the number of visible papers in it."""

    category: str  # biorxiv.cell-biology, cs.CL
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class SourceCategories:
    """A source's categories: every listed one for bioRxiv/medRxiv, those in use for arXiv."""

    source: str
    name: str
    categories: list[CategoryCount] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Papers of this source in some category."""
        return sum(c.count for c in self.categories)


def category_label(category: str) -> str:
    """A category's readable name: 'Cell biology' for biorxiv.cell-biology, the code otherwise."""
    server, _, _ = category.partition(".")
    if server in SERVERS:
        return dict(categories_of(server)).get(category.lower(), category)
    return category


def browse(db: Database, settings: Settings) -> list[SourceCategories]:
    """The categories of each source this instance shows, with paper counts."""
    with db.read() as conn:
        rows = paper_store.category_counts(conn)
    shown = instance_filter(settings).sources or SOURCES
    counts: dict[str, dict[str, int]] = {s: {} for s in shown}
    for source, category, n in rows:
        if source in counts:
            key = category.lower() if source in SERVERS else category
            counts[source][key] = counts[source].get(key, 0) + n
    out = []
    for source in shown:
        have = counts[source]
        if source in SERVERS:
            listed = [CategoryCount(c, label, have.pop(c, 0)) for c, label in categories_of(source)]
            # A subject the server added after this list was written is still shown.
            listed += [CategoryCount(c, category_label(c), n) for c, n in sorted(have.items())]
        else:
            listed = [CategoryCount(c, c, n) for c, n in sorted(have.items())]
        out.append(SourceCategories(source, SOURCE_NAMES[source], listed))
    return out

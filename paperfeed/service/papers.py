"""Reading the feed: a period's papers, the newest, what trends, one paper and its full text."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

from paperfeed.errors import InvalidId, NotFound, PaperfeedError
from paperfeed.licenses import allows_full_text
from paperfeed.models import (
    FeedEntry,
    FeedFilter,
    FeedItem,
    Paper,
    StoredFullText,
    StoredReference,
    TextSection,
    TrendingScore,
)
from paperfeed.normalize import parse_paper_id
from paperfeed.service.periods import Period, day_period, month_period, week_period
from paperfeed.sources.arxiv_html import html_url
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import fulltexts as fulltext_store
from paperfeed.store import hub_links as link_store
from paperfeed.store import identities as identity_store
from paperfeed.store import papers as paper_store
from paperfeed.store import signals as signal_store
from paperfeed.store import summaries as summary_store
from paperfeed.store import trending as trending_store
from paperfeed.store.hub_links import HubLinks
from paperfeed.store.summaries import Summary


class CanonicalRedirect(PaperfeedError):
    """The requested paper id is valid but not canonical (versioned, URL, upper case)."""

    def __init__(self, canonical: str) -> None:
        super().__init__(f"the canonical id is {canonical}")
        self.canonical = canonical


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


def _neighbours(
    db: Database, period: Period, only: FeedFilter | None = None
) -> tuple[Period | None, Period | None]:
    """The nearest earlier and later periods of the same kind that have entries."""
    with db.read() as conn:
        before = feed_store.day_before(conn, period.start, only)
        after = feed_store.day_after(conn, period.end, only)
    make = {"day": day_period, "week": week_period, "month": month_period}[period.kind]
    return (make(before) if before else None, make(after) if after else None)


def feed_view(
    db: Database,
    period: Period,
    *,
    page: int = 0,
    page_size: int = 50,
    submitted_by: str | None = None,
    only: FeedFilter | None = None,
) -> FeedView:
    """The papers featured in a period (optionally by one submitter), most upvoted first."""
    with db.read() as conn:
        total = feed_store.count_between(
            conn, period.start, period.end, submitted_by=submitted_by, only=only
        )
        items = feed_store.feed_between(
            conn,
            period.start,
            period.end,
            limit=page_size,
            offset=page * page_size,
            submitted_by=submitted_by,
            only=only,
        )
    prev, nxt = _neighbours(db, period, only)
    return FeedView(period, items, total, page, page_size, prev, nxt)


def newest_items(
    db: Database,
    *,
    submitted_by: str | None,
    page: int = 0,
    page_size: int = 50,
    only: FeedFilter | None = None,
) -> tuple[list[FeedItem], int]:
    """Featured papers over all days (optionally by one submitter), newest day first."""
    start, end = date.min, date.max
    with db.read() as conn:
        total = feed_store.count_between(conn, start, end, submitted_by=submitted_by, only=only)
        items = feed_store.feed_between(
            conn,
            start,
            end,
            limit=page_size,
            offset=page * page_size,
            submitted_by=submitted_by,
            newest_first=True,
            only=only,
        )
    return items, total


def latest_period(db: Database, only: FeedFilter | None = None) -> Period | None:
    """The latest day with featured papers (the filter keeps), or None for an empty store."""
    with db.read() as conn:
        day = feed_store.latest_day(conn, only)
    return day_period(day) if day else None


def latest_view(
    db: Database, *, page: int = 0, page_size: int = 50, only: FeedFilter | None = None
) -> FeedView:
    """The latest day's feed (an empty view when nothing was imported yet)."""
    period = latest_period(db, only)
    if period is None:
        return FeedView(None, page_size=page_size)
    return feed_view(db, period, page=page, page_size=page_size, only=only)


@dataclass(slots=True)
class PaperView:
    """One paper with the days it was featured and its external signals."""

    paper: Paper
    days: list[date]
    signals: dict[str, float]
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    entry: FeedEntry | None = None  # the first feed entry, with the submitter's details
    hub: HubLinks = field(default_factory=HubLinks)  # Hub repos citing the paper
    summary: Summary | None = None  # written here by the operator's model (HF's is on the paper)
    # Every (kind, value) identity: arXiv id, bioRxiv/medRxiv DOI, journal DOI (m0017).
    identities: list[tuple[str, str]] = field(default_factory=list)


def resolve_id(raw: str) -> str:
    """The canonical id for a requested id or URL; InvalidId when it is not an arXiv id."""
    if len(raw) > 200:
        raise InvalidId("not an arXiv id: too long")
    return parse_paper_id(raw).id


def named_id(raw: str) -> str:
    """The canonical form of a paper id or link a member sent, or "" when it names no paper."""
    try:
        return parse_paper_id(raw).id if 0 < len(raw) < 200 else ""
    except InvalidId:
        return ""


def member_paper_id(db: Database, raw: str) -> str:
    """The stored paper a member names by id, link or another source's id; "" when none parses."""
    pid = named_id(raw)
    if not pid:
        return ""
    with db.read() as conn:
        # A record linked to another source's paper (the bioRxiv DOI an arXiv paper names) is
        # that paper: votes, saves and comments on it go where its page redirects.
        return identity_store.canonical(conn, pid) or pid


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
        hub = link_store.links_of(conn, canonical)
        summary = summary_store.summary_of(conn, canonical)
    first = entries[0] if entries else None
    return PaperView(
        paper,
        [e.day for e in entries],
        signals,
        submitted_by=first.submitted_by if first else None,
        submitted_at=(first.submitted_at if first else None),
        entry=first,
        hub=hub,
        identities=known_as,
        summary=summary,
    )


def sorted_items(
    db: Database,
    period: Period | None,
    *,
    sort: str,
    submitter: str | None,
    page: int,
    size: int,
    only: FeedFilter | None = None,
) -> tuple[list[FeedItem], int]:
    """A period's feed (all days when None) by upvotes, publishedAt or trending score."""
    start, end = (period.start, period.end) if period else (None, None)
    with db.read() as conn:
        items = trending_store.feed_sorted(
            conn,
            start,
            end,
            submitter=submitter,
            sort=sort,
            limit=size,
            offset=page * size,
            only=only,
        )
        total = trending_store.count_sorted(conn, start, end, submitter=submitter, only=only)
    return items, total


CITED_BY_SHOWN = 50  # a paper page lists this many citing papers, newest first


@dataclass(slots=True)
class PaperFullText:
    """A paper's stored full text (when fetched), its references and the papers citing it here."""

    stored: StoredFullText | None
    allowed: bool  # the paper's licence lets this instance show the text
    references: list[StoredReference] = field(default_factory=list)
    cited_by: list[Paper] = field(default_factory=list)

    @property
    def has_text(self) -> bool:
        """True when a full text is stored (shown or not)."""
        return self.stored is not None and self.stored.status == "ok"

    @property
    def sections(self) -> list[TextSection]:
        """The sections to show: none unless the text is stored and its licence allows it."""
        return self.stored.sections if self.stored and self.has_text and self.allowed else []

    @property
    def headed(self) -> list[tuple[TextSection, int]]:
        """The sections with their heading rank (3 for a section), never skipping a rank.

        LaTeXML puts a \\paragraph straight under a \\section, which would jump from h3 to h6.
        """
        out: list[tuple[TextSection, int]] = []
        prev = 2  # the "Full text" heading is a level 2 heading
        for s in self.sections:
            rank = min(s.level + 2, prev + 1, 6)
            out.append((s, rank))
            prev = rank
        return out


def full_text(db: Database, paper: Paper) -> PaperFullText:
    """A paper's stored full text, references and the visible papers citing it."""
    with db.read() as conn:
        stored = fulltext_store.get(conn, paper.id)
        refs = fulltext_store.references(conn, paper.id)
        citing = fulltext_store.cited_by(conn, paper.id, limit=CITED_BY_SHOWN)
        found = paper_store.get_papers(conn, citing)
    return PaperFullText(
        stored, allows_full_text(paper.license), refs, [found[i] for i in citing if i in found]
    )


def reference_link(ref: StoredReference) -> tuple[str | None, bool]:
    """Where a reference points: (local paper id, True), else (arXiv/DOI/URL link, False)."""
    if ref.cited_id:
        return ref.cited_id, True
    if ref.arxiv_id:
        return f"https://arxiv.org/abs/{ref.arxiv_id}", False
    if ref.doi:
        return f"https://doi.org/{ref.doi}", False
    return ref.url, False


def _full_text_markdown(text: PaperFullText, arxiv_html: str) -> list[str]:
    if not text.has_text:
        return [
            "## Full text",
            "",
            "Full text not available here, showing the abstract. arXiv's HTML rendering, "
            f"when it has one: {arxiv_html}",
            "",
        ]
    if not text.allowed:
        return [
            "## Full text",
            "",
            "This paper's licence does not let this site show its full text: "
            f"read it at {arxiv_html}",
            "",
        ]
    lines = ["## Full text", ""]
    for s, rank in text.headed:
        lines += ["#" * rank + " " + s.label, ""]
        if s.text:
            lines += [s.text, ""]
    return lines


def paper_markdown(db: Database, raw_id: str, *, arxiv_html_url: str) -> str:
    """A paper as Markdown for agents (/papers/{id}.md, HfApi.read_paper, MCP get_paper).

    As the Hub's agent view: the metadata, AI summary, keywords and abstract, then the full
    text with its sections where it is stored and its licence allows it (a note and arXiv's
    link otherwise), then the references.
    """
    view = paper_view(db, raw_id, redirect=False)
    p = view.paper
    text = full_text(db, p)
    lines = [f"# {p.title}", "", "Authors: " + ", ".join(p.authors), ""]
    if p.organization:
        lines += [f"Organization: {p.organization.fullname}", ""]
    lines += [f"arXiv: {p.abs_url} · PDF: {p.pdf_url} · Upvotes: {p.upvotes}", ""]
    if p.categories:
        lines += ["Categories: " + ", ".join(p.categories), ""]
    if p.ai_summary:
        lines += ["## AI summary", "", p.ai_summary, ""]
    elif view.summary is not None:
        lines += [f"## AI-generated summary ({view.summary.model})", "", view.summary.summary, ""]
    if p.ai_keywords:
        lines += ["Keywords: " + ", ".join(p.ai_keywords), ""]
    if p.local_keywords:
        lines += ["Keywords extracted by paperfeed: " + ", ".join(p.local_keywords), ""]
    lines += ["## Abstract", "", p.abstract, ""]
    stars = f" ({p.github_stars} stars)" if p.github_stars is not None else ""
    links: list[tuple[str, str | None]] = [("arXiv", p.abs_url), ("PDF", p.pdf_url)]
    links += [("Code", p.github_repo and p.github_repo + stars), ("Project page", p.project_page)]
    lines += ["## Links", "", *(f"- {name}: {url}" for name, url in links if url), ""]
    lines += _full_text_markdown(text, html_url(arxiv_html_url, p.id))
    if text.references:
        lines += ["## References", ""]
        for ref in text.references:
            where, local = reference_link(ref)
            if local:
                where = f"/papers/{where} (in this instance)"
            lines.append(f"{ref.position}. {ref.text}" + (f" <{where}>" if where else ""))
        lines.append("")
    if text.cited_by:
        lines += ["## Cited by (in this instance)", ""]
        lines += [f"- {c.title} </papers/{c.id}>" for c in text.cited_by]
        lines.append("")
    return "\n".join(lines)


def trending(
    db: Database, *, page: int, size: int
) -> tuple[list[tuple[FeedItem, TrendingScore]], int]:
    """One page of papers by stored trending score, and how many have a score."""
    with db.read() as conn:
        return trending_store.top(conn, limit=size, offset=page * size), trending_store.count(conn)

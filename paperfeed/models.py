"""Plain data models passed between stages; no I/O here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(slots=True, frozen=True)
class Organization:
    """A Hugging Face organization a paper is affiliated with (the Hub's _id, slug and name)."""

    id: str
    name: str
    fullname: str
    avatar: str | None = None


SOURCE_NAMES = {"arxiv": "arXiv", "biorxiv": "bioRxiv", "medrxiv": "medRxiv"}


@dataclass(slots=True)
class Paper:
    """One paper, identified by its source's canonical id without version (arXiv id or DOI)."""

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    version: int = 1
    published: datetime | None = None  # first version
    updated: datetime | None = None  # latest version
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    github_repo: str | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    upvotes: int = 0
    num_comments: int = 0  # live comments posted on this instance (HF's count is a signal)
    organization: Organization | None = None
    discussion_id: str | None = None
    thumbnail: str | None = None
    media_urls: list[str] = field(default_factory=list)
    # The latest observed star count: read from signals, never written with the paper.
    github_stars: int | None = field(default=None, compare=False)
    # Keywords extracted by paperfeed (store/keywords.py), read with the paper, never written.
    local_keywords: list[str] = field(default_factory=list, compare=False)
    # arxiv, biorxiv or medrxiv: which server the id and its version numbers belong to.
    source: str = "arxiv"

    @property
    def primary_category(self) -> str | None:
        """The primary category is the first one listed."""
        return self.categories[0] if self.categories else None

    @property
    def source_name(self) -> str:
        """The server's display name: arXiv, bioRxiv or medRxiv."""
        return SOURCE_NAMES.get(self.source, self.source)

    @property
    def abs_url(self) -> str:
        """The abstract page on the paper's server."""
        if self.source in ("biorxiv", "medrxiv"):
            return f"https://www.{self.source}.org/content/{self.id}v{self.version}"
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        """The PDF link on the paper's server."""
        if self.source in ("biorxiv", "medrxiv"):
            return f"https://www.{self.source}.org/content/{self.id}v{self.version}.full.pdf"
        return f"https://arxiv.org/pdf/{self.id}"


@dataclass(slots=True)
class FeedEntry:
    """A paper featured on a day's feed, with who submitted it."""

    paper_id: str
    day: date
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    source: str = "import"
    submitter_fullname: str | None = None
    submitter_avatar: str | None = None
    listed_at: datetime | None = None  # the Hub item's own publishedAt (client submitted_at)
    author_participating: bool | None = None


@dataclass(slots=True)
class Signal:
    """An external signal about a paper observed at a time (e.g. GitHub stars)."""

    paper_id: str
    kind: str
    value: float
    observed_at: datetime


@dataclass(slots=True)
class FeedItem:
    """A paper as shown in a feed: the paper plus the day it was featured."""

    paper: Paper
    day: date
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    submitter_fullname: str | None = None
    submitter_avatar: str | None = None
    listed_at: datetime | None = None
    author_participating: bool | None = None

    @classmethod
    def of(cls, paper: Paper, entry: FeedEntry) -> FeedItem:
        """A paper shown as featured by one of its feed entries."""
        return cls(
            paper,
            entry.day,
            entry.submitted_by,
            entry.submitted_at,
            entry.submitter_fullname,
            entry.submitter_avatar,
            entry.listed_at,
            entry.author_participating,
        )


@dataclass(slots=True, frozen=True)
class Hit:
    """A retriever's or ranker's result: a paper id and a score, higher is better."""

    paper_id: str
    score: float


@dataclass(slots=True)
class UpsertCounts:
    """What an upsert or import did, for summaries."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: int = 0

    def add(self, other: UpsertCounts) -> None:
        """Accumulate another batch's counts into this one."""
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped
        self.errors += other.errors


@dataclass(slots=True)
class ImportRecord:
    """What a source yields for one input record: a paper, its feed entries and signals."""

    paper: Paper
    entries: list[FeedEntry] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)


# --- community ---


@dataclass(slots=True)
class User:
    """A member of the community; role is admin, curator or member."""

    id: int
    email: str
    username: str
    display_name: str
    role: str = "member"
    password_hash: str | None = None
    email_verified_at: datetime | None = None
    github_url: str | None = None
    orcid_url: str | None = None
    created_at: datetime | None = None

    @property
    def verified(self) -> bool:
        """True once the email address has been confirmed."""
        return self.email_verified_at is not None

    @property
    def is_curator(self) -> bool:
        """Curators and admins may feature, un-feature and hide papers and moderate comments."""
        return self.role in ("curator", "admin")


@dataclass(slots=True)
class Comment:
    """A plain-text comment on a paper by a member."""

    id: int
    paper_id: str
    user_id: int
    body: str
    created_at: datetime
    author_name: str = ""
    author_username: str = ""
    edited_at: datetime | None = None
    deleted_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class TrendingScore:
    """A paper's stored trending score and why: votes in the last 24 h and stars gained."""

    paper_id: str
    score: float
    votes_24h: int
    stars_gained: float
    computed_at: datetime


# --- authors: authorship claims ---
@dataclass(slots=True)
class AuthorClaim:
    """A member's claim to be the author at one position of a paper's author list."""

    id: int
    paper_id: str
    position: int
    user_id: int
    name: str  # the author name as listed on the paper
    slug: str
    status: str  # pending | confirmed | rejected
    created_at: datetime
    orcid: str | None = None
    evidence: str | None = None  # why it was confirmed, or what the ORCID check found
    decided_at: datetime | None = None
    decided_by: int | None = None
    username: str = ""  # the claimant's, for pages
    display_name: str = ""


# --- full text from arXiv's HTML ---


@dataclass(frozen=True, slots=True)
class TextSection:
    """One heading of a paper and the text under it (not its subsections')."""

    anchor: str  # the fragment id arXiv's page uses (S3.SS1), stable for links
    number: str  # "3.1", "A", or "" for unnumbered headings
    title: str  # plain text, math as its TeX
    level: int  # 1 section or appendix, 2 subsection, 3 subsubsection, 4 paragraph
    html: str  # rebuilt safe HTML: paragraphs, MathML, lists, captions; never the upstream markup
    text: str  # plain text for search and Markdown, math as $TeX$

    @property
    def label(self) -> str:
        """Number and title as the table of contents shows them."""
        return f"{self.number} {self.title}".strip()


@dataclass(frozen=True, slots=True)
class Reference:
    """One bibliography entry and the identifiers it names."""

    position: int  # 1-based place in the bibliography
    text: str
    arxiv_id: str | None = None
    doi: str | None = None
    url: str | None = None  # the first other http(s) link


@dataclass(slots=True)
class FullText:
    """A parsed paper: its title, sections in reading order, and bibliography."""

    title: str
    sections: list[TextSection] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)

    @property
    def body_text(self) -> str:
        """All section text, for hashing and search."""
        return "\n\n".join(f"{s.label}\n{s.text}" for s in self.sections)

    @property
    def content_hash(self) -> str:
        """A short hash of what was parsed, to tell a changed rendering from a refetch."""
        refs = "\n".join(r.text for r in self.references)
        return hashlib.sha256(f"{self.title}\n{self.body_text}\n{refs}".encode()).hexdigest()[:32]


@dataclass(slots=True)
class StoredFullText:
    """What the store holds about a paper's full text: the fetch outcome and, when ok, the text."""

    paper_id: str
    status: str  # ok | missing (no HTML, or a failed conversion) | failed (network, 5xx)
    source_url: str
    fetched_at: datetime
    attempts: int
    retry_at: datetime | None
    error: str | None
    content_hash: str | None
    title: str | None
    sections: list[TextSection] = field(default_factory=list)
    num_references: int = 0


@dataclass(slots=True, frozen=True)
class StoredReference:
    """A bibliography entry as stored, with the local paper it resolved to (if any)."""

    position: int
    text: str
    arxiv_id: str | None
    doi: str | None
    url: str | None
    cited_id: str | None


@dataclass(slots=True, frozen=True)
class TokenInfo:
    """A personal API token as its owner sees it: never the secret, only its display prefix."""

    id: int
    name: str
    scope: str  # read | write
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None


# --- bio: which papers a feed shows, by source and category (docs/biorxiv.md) ---


@dataclass(slots=True, frozen=True)
class FeedFilter:
    """Which papers a feed shows: sources (arxiv, biorxiv, medrxiv) and categories; empty is all."""

    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # lower case; 'cs' or 'biorxiv' means the whole archive

    def __bool__(self) -> bool:
        return bool(self.sources or self.categories)

    def within(self, other: FeedFilter) -> FeedFilter:
        """This filter narrowed by an instance-wide one (a biology-only instance stays one)."""
        sources = self.sources or other.sources
        if self.sources and other.sources:
            sources = tuple(s for s in self.sources if s in other.sources) or ("none",)
        return FeedFilter(sources, self.categories or other.categories)

"""Canonical paper identifiers (arXiv ids, bioRxiv/medRxiv DOIs) and text clean-up shared by every source."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from paperfeed.errors import InvalidId, PaperfeedError
from paperfeed.models import FeedEntry, ImportRecord, Organization, Paper, Signal

# New-style ids since 2007-04: YYMM.NNNN (until 2014-12) or YYMM.NNNNN (since 2015-01).
_NEW = r"(?P<new>\d{4}\.\d{4,5})"
# Old-style ids: archive[.SUBJECT]/YYMMNNN, e.g. hep-th/9901001, math.AG/0601001.
_OLD = r"(?P<old>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})"
# re.ASCII: \d would also match other scripts' digits, e.g. a full-width "２４０１.０１２３４".
_ID_RE = re.compile(rf"^(?:{_NEW}|{_OLD})(?:v(?P<version>\d{{1,3}}))?$", re.ASCII)
_URL_RE = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format)/(?P<rest>.+?)(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)
_OAI_RE = re.compile(r"^oai:arXiv\.org:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ArxivId:
    """A parsed arXiv identifier: canonical id without version, and the version if given."""

    id: str
    version: int | None = None

    def __str__(self) -> str:
        return self.id if self.version is None else f"{self.id}v{self.version}"


def parse_arxiv_id(text: str) -> ArxivId:
    """Parse an id, versioned id, `arXiv:` id, OAI identifier or arxiv.org URL."""
    s = text.strip()
    m = _URL_RE.match(s)
    if m:
        s = m.group("rest")
    s = _OAI_RE.sub("", s)
    if s[:6].lower() == "arxiv:":
        s = s[6:]
    s = s.strip().strip("/")
    m = _ID_RE.match(s)
    if not m:
        # Old-style archive names are lower case; tolerate "HEP-TH/9901001".
        head, _, tail = s.partition("/")
        if tail:
            m = _ID_RE.match(f"{head.lower()}/{tail}")
    if not m:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise InvalidId(
            f"not an arXiv id: {shown!r} (expected e.g. 2401.01234, 2401.01234v2, "
            "hep-th/9901001 or an arxiv.org/abs/ URL)"
        )
    canonical = m.group("new") or m.group("old")
    version = int(m.group("version")) if m.group("version") else None
    if version == 0:
        raise InvalidId(f"not an arXiv id: {text!r} (versions start at v1)")
    return ArxivId(canonical, version)


# --- one identity for every paper: arXiv ids and bioRxiv/medRxiv DOIs ---

SOURCES = ("arxiv", "biorxiv", "medrxiv")  # the paper sources an id can name
# bioRxiv/medRxiv DOIs: 10.1101/YYYY.MM.DD.NNNNNN (bioRxiv, 6 digits; medRxiv, 8 digits since
# 2019) or the old style without the date (bioRxiv 10.1101/001768, medRxiv 10.1101/19000653)
# both used until 2019-12; `vN` names a version.
_DOI_RE = re.compile(
    r"^10\.1101/(?P<suffix>\d{4}\.\d{2}\.\d{2}\.\d{6,8}|\d{6,8})(?:v(?P<version>\d{1,3}))?$",
    re.ASCII,
)
_DOI_URL_RE = re.compile(
    r"^(?:https?://)?(?:www\.|dx\.)?(?:(?P<server>biorxiv|medrxiv)\.org/content/(?:early/[\d/]+/)?"
    r"|doi\.org/)(?P<rest>10\.1101/[^?#]+?)(?:\.(?:full|abstract|article-info|supplementary-material)"
    r"(?:\.pdf(?:\+html)?)?|\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class PaperId:
    """A parsed paper identifier: its source, canonical id without version, and the version if given."""

    source: str  # arxiv, biorxiv or medrxiv (for a bare DOI, guessed from its shape)
    id: str
    version: int | None = None

    def __str__(self) -> str:
        return self.id if self.version is None else f"{self.id}v{self.version}"


def doi_server(suffix: str) -> str:
    """The server a 10.1101 DOI suffix most likely belongs to: medRxiv's have 8 digits."""
    tail = suffix.rpartition(".")[2]
    return "medrxiv" if len(tail) == 8 else "biorxiv"


def parse_paper_id(text: str) -> PaperId:
    """Parse an arXiv id or URL, or a bioRxiv/medRxiv DOI, `doi:` DOI, doi.org or server URL."""
    s = text.strip()
    m = _DOI_URL_RE.match(s)
    server = None
    if m:
        s, server = m.group("rest"), (m.group("server") or "").lower() or None
    elif s[:4].lower() == "doi:":
        s = s[4:].strip()
    if s.startswith("10."):
        d = _DOI_RE.match(s.rstrip("/"))
        if not d:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise InvalidId(
                f"not a bioRxiv/medRxiv DOI: {shown!r} (expected e.g. 10.1101/2021.09.30.462652, "
                "10.1101/001768 or a biorxiv.org/content/ URL)"
            )
        version = int(d.group("version")) if d.group("version") else None
        if version == 0:
            raise InvalidId(f"not a DOI version: {text!r} (versions start at v1)")
        suffix = d.group("suffix")
        return PaperId(server or doi_server(suffix), f"10.1101/{suffix}", version)
    try:
        aid = parse_arxiv_id(text)
    except InvalidId:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise InvalidId(
            f"not a paper id: {shown!r} (expected an arXiv id such as 2401.01234 or hep-th/9901001, "
            "a bioRxiv/medRxiv DOI such as 10.1101/2021.09.30.462652, or a link to either)"
        ) from None
    return PaperId("arxiv", aid.id, aid.version)


def is_paper_id(text: str) -> bool:
    """True when the text parses as an arXiv id, a bioRxiv/medRxiv DOI, or a link to one."""
    try:
        parse_paper_id(text)
    except InvalidId:
        return False
    return True


def is_doi_id(paper_id: str) -> bool:
    """True when a canonical paper id is a bioRxiv/medRxiv DOI rather than an arXiv id."""
    return paper_id.startswith("10.1101/")


def preprint_category(server: str, text: str | None) -> str | None:
    """A bioRxiv/medRxiv free-text category as a browsable one, e.g. biorxiv.systems-biology."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    return f"{server}.{'-'.join(words)}" if words else None


def canonical_id(text: str) -> str:
    """The canonical id without version, or InvalidId."""
    return parse_arxiv_id(text).id


def is_arxiv_id(text: str) -> bool:
    """True when the text parses as an arXiv id or URL."""
    try:
        parse_arxiv_id(text)
    except InvalidId:
        return False
    return True


def parse_version(text: str | None) -> int | None:
    """Turn 'v3' or '3' into 3; None or junk gives None."""
    if not text:
        return None
    m = re.fullmatch(r"\s*v?(\d{1,3})\s*", text, re.ASCII)
    return int(m.group(1)) if m else None


def id_month(paper_id: str) -> date | None:
    """The first day of the month an arXiv id was assigned (its YYMM), or None for other ids."""
    m = _ID_RE.match(paper_id)
    if not m:
        return None
    digits = m.group("new") or m.group("old").rpartition("/")[2]
    yy, month = int(digits[:2]), int(digits[2:4])
    if not 1 <= month <= 12:
        return None
    # Old-style ids ran from 1991 to 2007-03; new-style ones start at 0704 (2007-04).
    return date((1900 if yy >= 91 else 2000) + yy, month, 1)


def first_version_date(paper_id: str, when: datetime | None) -> datetime | None:
    """`when` if it can be the first version's date of this id, else None (unknown)."""
    month = id_month(paper_id)
    if when is None or month is None:
        return when
    day = when.date()
    # arXiv numbers a paper in the month it announces it, so no v1 is dated after its id's
    # month (one day of slack covers time zones). It can be dated before: sent after a month's
    # last deadline or held for moderation (1501.05261's v1 is from 2014-08, five months early);
    # a year before the id is the limit.
    earliest = month.replace(year=month.year - 1)
    after = (month + timedelta(days=32)).replace(day=1)
    if earliest <= day <= after:
        return when
    return None


# Any 18 digits fit a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT: up to 2**63 - 1).
ROW_ID_DIGITS = 18


def parse_row_id(text: str) -> int | None:
    """A database row id written as 1 to 18 ASCII digits, else None (never an overflowing int)."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= ROW_ID_DIGITS:
        return int(text)
    return None


_WS = re.compile(r"\s+")
# What no stored text may hold: NUL (PostgreSQL refuses it), lone surrogates (UTF-8 cannot
# encode them, so SQLite refuses them), C0/C1 controls but tab/newline/return, and the two
# non-characters XML 1.0 forbids. Text without them is valid in XML, JSON, HTML and both databases.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def strip_invalid(text: str) -> str:
    """Drop the characters no stored text may hold (NUL, lone surrogates, control characters)."""
    return _INVALID.sub("", text) if _INVALID.search(text) else text


def has_invalid(text: str) -> bool:
    """True when the text holds a character strip_invalid would drop."""
    return _INVALID.search(text) is not None


def clean_text(text: str | None) -> str:
    """Collapse arXiv's hard line breaks and runs of white space into single spaces."""
    if not text:
        return ""
    return " ".join(strip_invalid(text).split())  # str.split is ~3x faster than a regex here


def clean_abstract(text: str | None) -> str:
    """Clean an abstract, keeping blank-line paragraph breaks."""
    if not text:
        return ""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(p for p in (clean_text(p) for p in paragraphs) if p)


def split_authors(text: str | None) -> list[str]:
    """Split arXiv's 'A, B and C' author string into names, in order."""
    if not text:
        return []
    text = clean_text(text)
    # Parenthesised affiliations may contain commas: drop them before splitting.
    depth, out = 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    text = "".join(out)
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", text)
    return [clean_text(p) for p in parts if clean_text(p)]


_AFFILIATION = re.compile(r"\s*\([^()]*\)")
_TRAILING_ET_AL = re.compile(r"[\s,;]+(?:et(?:\.\s*|\s+)al\.?|and\s+others)\s*$", re.IGNORECASE)
_NOT_A_NAME = re.compile(r"^(?:et\.?\s*al\.?|others|and others|anonymous)$", re.IGNORECASE)


def author_slug(name: str | None) -> str:
    """The URL key of an author name: accents folded, case folded, runs of non-letters as "-"."""
    # One key for "José García", "Jose Garcia" and "JOSÉ  GARCÍA"; CJK letters stay as they are
    # (they are \w), and a placeholder such as "et al." has no key at all.
    # "Smith et al." names Smith; "Wei Wang (Google)" carries an affiliation, not a name part.
    text = _AFFILIATION.sub(" ", clean_text(name or ""))
    text = _TRAILING_ET_AL.sub("", text).strip(" .,;")
    if not text or _NOT_A_NAME.match(text):
        return ""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = unicodedata.normalize("NFKC", folded).casefold()
    slug = "-".join(re.findall(r"[^\W_]+", folded))[:120].strip("-")
    # "Others!" or "ET-AL" fold to a placeholder too: checked again so a slug is its own slug.
    return "" if _NOT_A_NAME.match(slug.replace("-", " ")) else slug


def split_categories(text: str | list[str] | None) -> list[str]:
    """Split a space-separated category string (or pass a list through), keeping order."""
    if not text:
        return []
    items = text.split() if isinstance(text, str) else [c.strip() for c in text]
    seen: list[str] = []
    for c in items:
        if c and c not in seen:
            seen.append(c)
    return seen


# --- one gate for every source: a parsed candidate becomes a valid record or InvalidRecord ---


class InvalidRecord(PaperfeedError, ValueError):
    """One upstream record cannot be stored; the message names the field and why."""


# An arXiv category: archive[.SUBJECT], e.g. cs.CL, hep-th, cond-mat.str-el, astro-ph.CO.
_CATEGORY = re.compile(r"^[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]+(?:-[A-Za-z]+)*)?$")
_URL = re.compile(r"^https?://[^\s<>\"'`]+$")
_WORD = re.compile(r"^[a-z][a-z0-9_\-]*$")
# Bounds well above real data (arXiv caps abstracts at 1,920 characters, the longest author
# lists are about 5,200 names) and within the columns (doi and license are VARCHAR(255)).
LIMITS = {
    "title": 1_000,
    "abstract": 20_000,
    "author": 300,
    "authors": 10_000,
    "category": 64,  # medrxiv.occupational-and-environmental-health is 45
    "categories": 50,
    "comments": 5_000,
    "journal_ref": 1_000,
    "doi": 255,
    "license": 255,
    "url": 2_000,
    "ai_summary": 5_000,
    "ai_keyword": 200,
    "ai_keywords": 100,
    "submitted_by": 255,
    "fullname": 255,
    "organization": 255,
    "discussion_id": 64,
    "media_urls": 50,
    "source": 32,
    "kind": 64,
}
# Upvotes and comments: the most upvoted HF daily paper has a few thousand, so 100,000 is a
# sanity bound well above real data (ranking weighs a day's imported upvotes as one term).
_MAX_COUNT = 100_000
_YEARS = (1900, 2200)  # dates outside break day arithmetic (date.max + 1 day) on pages


def is_category(text: str) -> bool:
    """True when the text looks like an arXiv category such as cs.CL or hep-th."""
    return len(text) <= LIMITS["category"] and _CATEGORY.match(text) is not None


def _kind(value: Any) -> str:
    return type(value).__name__


def _bounded(value: str, field: str, limit_name: str | None = None) -> str:
    limit = LIMITS[limit_name or field]
    if len(value) > limit:
        raise InvalidRecord(f"{field} is {len(value):,} characters long (at most {limit:,})")
    return value


def _line(value: Any, field: str, limit_name: str | None = None) -> str | None:
    """A one-line text field: None or text, cleaned; empty becomes None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} must be text, not {_kind(value)}")
    return _bounded(clean_text(value), field, limit_name) or None


def _sequence(value: Any, field: str) -> list[Any] | tuple[Any, ...]:
    """A list field's entries (none for None), refusing other types and overlong lists."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidRecord(f"{field} must be a list, not {_kind(value)}")
    if len(value) > LIMITS[field]:
        raise InvalidRecord(f"{field} has {len(value):,} entries (at most {LIMITS[field]:,})")
    return value


def _names(value: Any, field: str, item: str) -> list[str]:
    """A list of short texts (authors, keywords): strings or objects with a string name."""
    out: list[str] = []
    for n, v in enumerate(_sequence(value, field), start=1):
        name = v.get("name") if isinstance(v, dict) else v
        if not isinstance(name, str):
            raise InvalidRecord(
                f"{field} entry {n} must be text or an object with a text name, not {_kind(v)}"
            )
        name = _bounded(clean_text(name), f"{field} entry {n}", item)
        if name:
            out.append(name)
    return out


def _categories(value: Any) -> list[str]:
    names = _names(value.split() if isinstance(value, str) else value, "categories", "category")
    out: list[str] = []
    for n, cat in enumerate(names, start=1):
        if not is_category(cat):
            raise InvalidRecord(
                f"categories entry {n} {cat[:64]!r} is not an arXiv category (e.g. cs.CL, "
                "hep-th) or a bioRxiv/medRxiv one (biorxiv.genetics)"
            )
        if cat not in out:
            out.append(cat)
    return out


def _when(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidRecord(f"{field} {value[:40]!r} is not an ISO date") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise InvalidRecord(f"{field} must be a date, not {_kind(value)}")
    if not _YEARS[0] <= value.year <= _YEARS[1]:
        raise InvalidRecord(f"{field} year {value.year} is outside {_YEARS[0]}-{_YEARS[1]}")
    return value


def _count(value: Any, field: str, low: int = 0, high: int = _MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecord(f"{field} must be a whole number, not {_kind(value)}")
    if not low <= value <= high:
        raise InvalidRecord(f"{field} {value} is outside {low}-{high}")
    return value


def _link(value: Any, field: str) -> str | None:
    url = _line(value, field, "url")
    if url is not None and not _URL.match(url):
        raise InvalidRecord(f"{field} {url[:60]!r} is not an http(s) URL")
    return url


def _avatar(value: Any, field: str) -> str | None:
    """An avatar: an http(s) URL or a site path such as the Hub's /avatars/x.svg."""
    url = _line(value, field, "url")
    if url is not None and not (
        _URL.match(url) or (url.startswith("/") and _URL.match("https://h" + url))
    ):
        raise InvalidRecord(f"{field} {url[:60]!r} is neither an http(s) URL nor a site path")
    return url


def _organization(value: Any) -> Organization | None:
    if value is None:
        return None
    if not isinstance(value, Organization):
        raise InvalidRecord(f"organization must be an Organization, not {_kind(value)}")
    oid = _line(value.id, "organization id", "organization")
    name = _line(value.name, "organization name", "organization")
    if not oid or not name:
        raise InvalidRecord("organization needs an id and a name")
    fullname = _line(value.fullname, "organization fullname", "organization") or name
    return Organization(oid, name, fullname, _avatar(value.avatar, "organization avatar"))


def _links(value: Any, field: str) -> list[str]:
    seq = _sequence(value, field)
    return [u for n, v in enumerate(seq, 1) if (u := _link(v, f"{field} entry {n}"))]


def _flag(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidRecord(f"{field} must be true or false, not {_kind(value)}")


def valid_paper(p: Paper) -> Paper:
    """The paper with every field cleaned and checked (types, ids, dates, lengths), or InvalidRecord."""
    if not isinstance(p.id, str):
        raise InvalidRecord(f"id must be text, not {_kind(p.id)}")
    try:
        aid = parse_paper_id(strip_invalid(p.id))
    except InvalidId as exc:
        raise InvalidRecord(str(exc)) from None
    source = p.source if p.source in SOURCES else None
    if source is None or (source == "arxiv") != (aid.source == "arxiv"):
        raise InvalidRecord(f"{aid.id}: source {str(p.source)[:20]!r} does not fit this id")
    title = _line(p.title, "title")
    if not title:
        raise InvalidRecord(f"{aid.id}: record has no title")
    abstract = p.abstract if p.abstract is not None else ""
    if not isinstance(abstract, str):
        raise InvalidRecord(f"abstract must be text, not {_kind(abstract)}")
    return Paper(
        id=aid.id,
        source=source,
        title=title,
        abstract=_bounded(clean_abstract(abstract), "abstract"),
        authors=_names(p.authors, "authors", "author"),
        categories=_categories(p.categories),
        version=_count(p.version, "version", 1, 999),
        published=_when(p.published, "published"),
        updated=_when(p.updated, "updated"),
        comments=_line(p.comments, "comments"),
        journal_ref=_line(p.journal_ref, "journal_ref"),
        doi=_line(p.doi, "doi"),
        license=_line(p.license, "license"),
        github_repo=_link(p.github_repo, "github_repo"),
        project_page=_link(p.project_page, "project_page"),
        ai_summary=_line(p.ai_summary, "ai_summary"),
        ai_keywords=_names(p.ai_keywords, "ai_keywords", "ai_keyword"),
        upvotes=_count(p.upvotes, "upvotes"),
        num_comments=_count(p.num_comments, "num_comments"),
        organization=_organization(p.organization),
        discussion_id=_line(p.discussion_id, "discussion_id"),
        thumbnail=_link(p.thumbnail, "thumbnail"),
        media_urls=_links(p.media_urls, "media_urls"),
        github_stars=None if p.github_stars is None else _count(p.github_stars, "github_stars"),
    )


def _valid_entry(e: FeedEntry, paper_id: str) -> FeedEntry:
    day = _when(e.day, "feed day")
    if day is None:
        raise InvalidRecord("feed entry has no day")
    source = _line(e.source, "feed source", "source") or "import"
    if not _WORD.match(source):
        raise InvalidRecord(f"feed source {source!r} is not a short lower-case word")
    return FeedEntry(
        paper_id,
        day.date(),
        _line(e.submitted_by, "submitted_by"),
        _when(e.submitted_at, "submitted_at"),
        source,
        submitter_fullname=_line(e.submitter_fullname, "submitter fullname", "fullname"),
        submitter_avatar=_avatar(e.submitter_avatar, "submitter avatar"),
        listed_at=_when(e.listed_at, "listed_at"),
        author_participating=_flag(e.author_participating, "author_participating"),
    )


def _valid_signal(s: Signal, paper_id: str) -> Signal:
    kind = _line(s.kind, "signal kind", "kind") or ""
    if not _WORD.match(kind):
        raise InvalidRecord(f"signal kind {kind!r} is not a short lower-case word")
    if isinstance(s.value, bool) or not isinstance(s.value, int | float):
        raise InvalidRecord(f"signal value must be a number, not {_kind(s.value)}")
    # NaN or infinity would poison trending scores and cannot be written as JSON.
    if not math.isfinite(s.value) or abs(s.value) > 1e12:
        raise InvalidRecord(f"signal value {s.value} is not a finite number below 1e12")
    at = _when(s.observed_at, "signal time")
    if at is None:
        raise InvalidRecord("signal has no observation time")
    return Signal(paper_id, kind, float(s.value), at)


def valid_record(record: ImportRecord) -> ImportRecord:
    """The record with its paper, feed entries and signals cleaned and checked, or InvalidRecord."""
    paper = valid_paper(record.paper)
    return ImportRecord(
        paper,
        [_valid_entry(e, paper.id) for e in record.entries],
        [_valid_signal(s, paper.id) for s in record.signals],
    )

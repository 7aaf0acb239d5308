"""Canonical arXiv identifiers and text clean-up shared by every source."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from paperfeed.errors import InvalidId

# New-style ids since 2007-04: YYMM.NNNN (until 2014-12) or YYMM.NNNNN (since 2015-01).
_NEW = r"(?P<new>\d{4}\.\d{4,5})"
# Old-style ids: archive[.SUBJECT]/YYMMNNN, e.g. hep-th/9901001, math.AG/0601001.
_OLD = r"(?P<old>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})"
_ID_RE = re.compile(rf"^(?:{_NEW}|{_OLD})(?:v(?P<version>\d{{1,3}}))?$")
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
    m = re.fullmatch(r"\s*v?(\d{1,3})\s*", text)
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
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str | None) -> str:
    """Collapse arXiv's hard line breaks and runs of white space into single spaces."""
    if not text:
        return ""
    # NUL and other C0 controls break XML, PostgreSQL text and terminals alike.
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    return " ".join(text.split())  # str.split is about 3x faster than a regex for this


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

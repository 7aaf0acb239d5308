"""Safe parsing of what people type into the search box into a structured query."""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date

from paperfeed.errors import PaperfeedError
from paperfeed.normalize import is_paper_id, parse_paper_id

MAX_QUERY_CHARS = 2000  # longer input (a pasted page) is cut here; 2,000 chars ≈ 300 words
MAX_WORDS = 64  # free-text words kept: enough for a pasted abstract's opening, bounded cost
MAX_WORD_CHARS = 40  # Tantivy's tokenizers drop longer tokens anyway
MAX_FILTERS = 20

# A token: optional sign, optional `field:`, then a quoted string (closed or not) or a bare word.
_TOKEN = re.compile(
    r'(?P<sign>[-+]?)(?:(?P<field>[A-Za-z_]+):)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]*))'
)
_WORD = re.compile(r"[^\W_]+")
_SEARCHED_FIELDS = {"title", "ti", "abstract", "abs", "all", "text", "tag"}
_FIELDS = {
    "cat": "cat",
    "category": "cat",
    "author": "author",
    "au": "author",
    "year": "year",
    "from": "from",
    "after": "from",
    "since": "from",
    "to": "to",
    "before": "to",
    "until": "to",
    "date": "date",
    "source": "source",
    "src": "source",
}
SOURCES = ("arxiv", "biorxiv", "medrxiv")  # the values of source: (models.SOURCE_NAMES)


class QueryError(PaperfeedError, ValueError):
    """A search query has a filter that cannot be understood; the message shows the right form."""


@dataclass(frozen=True)
class Query:
    """A parsed search: words, phrases, exclusions and filters; empty parts mean no constraint."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[tuple[str, ...], ...] = ()
    categories: tuple[str, ...] = ()  # lower case; 'cs' means the whole archive
    authors: tuple[tuple[str, ...], ...] = ()  # each name as lower-case words
    date_from: date | None = None
    date_to: date | None = None
    arxiv_id: str | None = None  # the whole query was an arXiv id or URL
    sources: tuple[str, ...] = ()  # arxiv, biorxiv, medrxiv; empty means every source
    notes: tuple[str, ...] = field(default=())  # what was dropped or cut, for the user

    @property
    def text(self) -> str:
        """The free-text part as plain words, for embedding."""
        parts = list(self.words) + [" ".join(p) for p in self.phrases]
        return " ".join(parts)

    @property
    def has_text(self) -> bool:
        """True when there is something to rank by relevance."""
        return bool(self.words or self.phrases)

    @property
    def has_filters(self) -> bool:
        """True when categories, authors, dates or exclusions narrow the results."""
        return bool(
            self.categories
            or self.authors
            or self.date_from
            or self.date_to
            or self.excluded
            or self.sources
        )

    @property
    def is_empty(self) -> bool:
        """True when the query neither ranks nor filters anything."""
        return not (self.has_text or self.has_filters)

    def tantivy_text(self) -> str:
        """The positive free text in Tantivy query syntax; only lower-case words and quotes."""
        parts = list(self.words) + ['"' + " ".join(p) + '"' for p in self.phrases]
        return " ".join(parts)

    def tantivy_excluded(self) -> str:
        """The excluded words and phrases as one OR query in Tantivy syntax."""
        return " ".join(p[0] if len(p) == 1 else '"' + " ".join(p) + '"' for p in self.excluded)

    def with_filters(
        self,
        *,
        categories: list[str] | None = None,
        authors: list[str] | None = None,
        date_from: str | date | None = None,
        date_to: str | date | None = None,
        sources: list[str] | None = None,
    ) -> Query:
        """This query with extra filters from form fields (same syntax as in the query text)."""
        q = self
        if sources:
            q = replace(q, sources=q.sources + tuple(_clean_source(v) for v in sources if v))
        if categories:
            cats = [c.strip().lower() for c in categories if c and c.strip()]
            q = replace(q, categories=q.categories + tuple(_clean_cat(c) for c in cats))
        if authors:
            names = [tuple(words(a)) for a in authors if a and words(a)]
            q = replace(q, authors=q.authors + tuple(names))
        if date_from:
            d = date_from if isinstance(date_from, date) else parse_date(date_from, end=False)
            q = replace(q, date_from=max(d, q.date_from) if q.date_from else d)
        if date_to:
            d = date_to if isinstance(date_to, date) else parse_date(date_to, end=True)
            q = replace(q, date_to=min(d, q.date_to) if q.date_to else d)
        return q


def words(text: str) -> list[str]:
    """Lower-case words as Tantivy's tokenizers cut them (letters and digits of any script)."""
    return [w[:MAX_WORD_CHARS] for w in _WORD.findall(text.lower())]


def _clean(text: str) -> str:
    # NFKC folds full-width and compatibility forms; control characters (NUL…) become spaces.
    text = unicodedata.normalize("NFKC", text)
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)


def _clean_cat(value: str) -> str:
    v = value.strip().lower().rstrip("*").rstrip(".")
    if not v or not re.fullmatch(r"[a-z][a-z0-9\-]*(?:\.[a-z0-9\-]+)?", v):
        raise QueryError(
            f"cat:{value} is not an arXiv category: write e.g. cat:cs.CL, or cat:cs for all of cs"
        )
    return v


def _clean_source(value: str) -> str:
    v = value.strip().lower()
    if v not in SOURCES:
        raise QueryError(
            f"source:{value[:40]} is not a source: write source:{' or source:'.join(SOURCES)}"
        )
    return v


def parse_date(value: str, *, end: bool) -> date:
    """Parse YYYY, YYYY-MM or YYYY-MM-DD; `end` picks the last day of a year or month."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value.strip())
    if not m:
        raise QueryError(f"{value!r} is not a date: write 2025, 2025-03 or 2025-03-31")
    y = int(m.group(1))
    mo = int(m.group(2)) if m.group(2) else (12 if end else 1)
    try:
        if m.group(3):
            return date(y, mo, int(m.group(3)))
        if not 1 <= mo <= 12:
            raise ValueError
        return date(y, mo, calendar.monthrange(y, mo)[1] if end else 1)
    except ValueError:
        raise QueryError(f"{value!r} is not a valid date: write e.g. 2025-03-31") from None


def _range(value: str, what: str) -> tuple[date, date]:
    lo, sep, hi = value.partition("..")
    if not sep:
        return parse_date(value, end=False), parse_date(value, end=True)
    if not lo.strip() and not hi.strip():
        raise QueryError(f"{what}:{value} needs at least one end, e.g. {what}:2020..2023")
    start = parse_date(lo, end=False) if lo.strip() else date(1, 1, 1)
    stop = parse_date(hi, end=True) if hi.strip() else date(9999, 12, 31)
    return start, stop


def parse(text: str, *, lenient: bool = False) -> Query:
    """Parse a search string; QueryError for a malformed filter value unless lenient.

    Lenient parsing (the Hub-shaped API) searches a token that is not a valid filter, such as
    year:abc, as plain words, the way the Hugging Face API searches any text.
    """
    notes: list[str] = []
    text = _clean(text or "")
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        notes.append(f"the query was cut to its first {MAX_QUERY_CHARS} characters")
    stripped = text.strip()
    if stripped and " " not in stripped and is_paper_id(stripped):
        return Query(arxiv_id=parse_paper_id(stripped).id)  # an arXiv id or a 10.1101 DOI

    ws: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[tuple[str, ...]] = []
    cats: list[str] = []
    srcs: list[str] = []
    authors: list[tuple[str, ...]] = []
    date_from: date | None = None
    date_to: date | None = None
    negate_next = False
    n_filters = 0

    for m in _TOKEN.finditer(text):
        sign, fname, quoted, bare = m.group("sign", "field", "quoted", "bare")
        raw = quoted if quoted is not None else bare or ""
        kind = _FIELDS.get(fname.lower()) if fname else None
        if fname and kind is None:
            # Not a filter of ours: "title:x" searches x everywhere; "http:" etc. stay words.
            if fname.lower() not in _SEARCHED_FIELDS and sign != "-":
                ws.extend(words(fname))
        if kind is not None:
            n_filters += 1
            if n_filters > MAX_FILTERS:
                notes.append(f"only the first {MAX_FILTERS} filters were used")
                continue
            value = raw.strip()
            try:
                if not value:
                    raise QueryError(f"{fname}: needs a value, e.g. {fname}:{_EXAMPLE[kind]}")
                if kind == "cat":
                    cats.append(_clean_cat(value))
                elif kind == "source":
                    srcs.append(_clean_source(value))
                elif kind == "author":
                    name = tuple(words(value))
                    if name:
                        authors.append(name)
                else:
                    try:
                        lo, hi = _range(value, fname)
                    except QueryError as exc:
                        raise QueryError(f"in {fname}:{value[:40]} {exc}") from None
                    if kind in ("year", "date"):
                        date_from = max(lo, date_from) if date_from else lo
                        date_to = min(hi, date_to) if date_to else hi
                    elif kind == "from":
                        date_from = max(lo, date_from) if date_from else lo
                    else:
                        date_to = min(hi, date_to) if date_to else hi
                continue
            except QueryError:
                if not lenient:
                    raise
                n_filters -= 1
                if sign != "-":
                    ws.extend(words(fname))  # not a filter after all: search its words below
        if quoted is None and sign == "" and raw in ("AND", "OR", "NEAR", "&&", "||"):
            continue  # boolean operators are not supported; every word counts anyway
        if quoted is None and sign == "" and raw == "NOT":
            negate_next = True
            continue
        toks = tuple(words(raw))
        if not toks:
            continue
        if sign == "-" or negate_next:
            excluded.append(toks)
            negate_next = False
        elif len(toks) == 1:
            ws.append(toks[0])
        else:
            phrases.append(toks)  # a quoted phrase, or a word like GPT-4 the tokenizer splits

    n = len(ws) + sum(len(p) for p in phrases)
    if n > MAX_WORDS:
        notes.append(f"only the first {MAX_WORDS} words were used")
        budget = MAX_WORDS
        kept_p: list[tuple[str, ...]] = []
        for p in phrases:
            if len(p) <= budget:
                kept_p.append(p)
                budget -= len(p)
        phrases = kept_p
        ws = ws[:budget]
    return Query(
        words=tuple(dict.fromkeys(ws)),
        phrases=tuple(dict.fromkeys(phrases)),
        excluded=tuple(dict.fromkeys(excluded[:MAX_WORDS])),
        categories=tuple(dict.fromkeys(cats)),
        sources=tuple(dict.fromkeys(srcs)),
        authors=tuple(dict.fromkeys(authors)),
        date_from=date_from,
        date_to=date_to,
        notes=tuple(notes),
    )


_EXAMPLE = {
    "cat": "cs.CL",
    "author": '"Yann LeCun"',
    "year": "2025",
    "from": "2025-01",
    "to": "2025-06-30",
    "date": "2025-01..2025-03",
    "source": "biorxiv",
}

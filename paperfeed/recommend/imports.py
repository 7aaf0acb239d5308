"""Read a library export (BibTeX, RIS, Zotero CSL-JSON) and match its entries to stored papers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from paperfeed.errors import ImportFormatError, InvalidId
from paperfeed.normalize import parse_arxiv_id
from paperfeed.store import Database
from paperfeed.store import library as store_library

FORMATS = ("bibtex", "ris", "csl-json")
MAX_REPORT_ROWS = 2000  # per-entry rows kept in a report; counts always cover everything

_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv(?:\.org)?(?:/abs|/pdf)?[:/\s.]*|10\.48550/arxiv\.)"
    r"((?:\d{4}\.\d{4,5})|(?:[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}))(v\d+)?",
    re.IGNORECASE,
)
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>{}]+)", re.IGNORECASE)


@dataclass(slots=True)
class Entry:
    """One parsed entry: where it is, what identifies it, or why it could not be read."""

    index: int  # 1-based position in the file
    label: str  # citation key, or the title's start
    line: int = 0
    arxiv_id: str | None = None
    doi: str | None = None
    title: str | None = None
    error: str | None = None  # set when the entry is broken


@dataclass(slots=True)
class EntryResult:
    """What happened to one entry: imported, duplicate, unknown or broken, and why."""

    index: int
    label: str
    status: str
    detail: str
    paper_id: str | None = None


@dataclass(slots=True)
class ImportReport:
    """The outcome of one import, per entry and in total."""

    format: str
    collection: str
    entries: list[EntryResult] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"imported": 0, "duplicate": 0, "unknown": 0, "broken": 0}
    )
    committed: bool = False
    truncated: int = 0  # per-entry rows left out of `entries` (counts still include them)

    def add(self, r: EntryResult) -> None:
        """Count an entry and keep its row (up to MAX_REPORT_ROWS)."""
        self.counts[r.status] += 1
        if len(self.entries) < MAX_REPORT_ROWS:
            self.entries.append(r)
        else:
            self.truncated += 1

    @property
    def total(self) -> int:
        """How many entries the file held."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line: totals per status and whether anything was saved."""
        c = self.counts
        head = (
            f"{self.total} entries: {c['imported']} imported into '{self.collection}', "
            f"{c['duplicate']} duplicate, {c['unknown']} not in this instance, {c['broken']} broken"
        )
        return head if self.committed else head + " (nothing was saved)"

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON."""
        return {
            "format": self.format,
            "collection": self.collection,
            "committed": self.committed,
            "counts": self.counts,
            "total": self.total,
            "entries": [
                {
                    "index": e.index,
                    "label": e.label,
                    "status": e.status,
                    "detail": e.detail,
                    "paper_id": e.paper_id,
                }
                for e in self.entries
            ],
            "truncated": self.truncated,
        }


# --- identifiers ------------------------------------------------------------------------------


def arxiv_from_text(text: str | None) -> str | None:
    """The first arXiv id mentioned in a field (eprint, URL, note, journal), or None."""
    if not text:
        return None
    t = text.strip()
    try:
        return parse_arxiv_id(t).id
    except InvalidId:
        pass
    m = _ARXIV_IN_TEXT.search(t)
    if m:
        try:
            return parse_arxiv_id(m.group(1)).id
        except InvalidId:
            return None
    return None


def doi_from_text(text: str | None) -> str | None:
    """A DOI found in a field or a doi.org URL, lower-cased, or None."""
    if not text:
        return None
    m = _DOI.search(text)
    return m.group(1).rstrip(".,;").lower() if m else None


_LATEX_CMD = re.compile(r"\\[a-zA-Z]+\s*")


def title_key(title: str) -> str:
    """A title as compared across sources: braces and LaTeX commands gone, spaces collapsed."""
    t = _LATEX_CMD.sub("", title) if "\\" in title and "$" not in title else title
    t = t.replace("{", "").replace("}", "")
    return " ".join(t.split()).rstrip(".").lower()


def _label(key: str | None, title: str | None, index: int) -> str:
    if key:
        return key[:80]
    if title:
        return title[:80]
    return f"entry {index}"


# --- BibTeX -----------------------------------------------------------------------------------

_AT = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")
_FIELD = re.compile(r"\s*([A-Za-z][\w\-:.+]*)\s*=\s*")
_BRACE = re.compile(r"[{}]")


class _BibError(Exception):
    pass


def _braced(text: str, start: int) -> int:
    """Index just past the brace that closes the one at text[start]."""
    depth = 0
    for m in _BRACE.finditer(text, start):
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return m.end()
    raise _BibError("a '{' is never closed")


def _bib_value(text: str, pos: int, close: str) -> tuple[str, int]:
    """Parse a field value (braced, quoted, bare, joined with #); returns (value, new pos)."""
    parts: list[str] = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            raise _BibError("the entry ends in the middle of a field")
        c = text[pos]
        if c == "{":
            end = _braced(text, pos)
            parts.append(text[pos + 1 : end - 1])
            pos = end
        elif c == '"':
            i, depth = pos + 1, 0
            while i < len(text):
                ch = text[i]
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                elif ch == '"' and depth == 0 and text[i - 1] != "\\":
                    break
                i += 1
            else:
                raise _BibError("a '\"' is never closed")
            parts.append(text[pos + 1 : i])
            pos = i + 1
        else:
            m = re.compile(r"[^\s,#" + re.escape(close) + r"]+").match(text, pos)
            if not m:
                raise _BibError(f"unexpected {c!r} where a value should be")
            parts.append(m.group())
            pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos < len(text) and text[pos] == "#":
            pos += 1
            continue
        return "".join(parts), pos


def _bib_entry(text: str, pos: int, close: str) -> tuple[str, dict[str, str], int]:
    """Parse `key, field = value, ...` up to the closing delimiter; returns (key, fields, end)."""
    m = re.compile(r"\s*([^,\s{}()=\"#]*)\s*,").match(text, pos)
    if not m:
        raise _BibError("no citation key followed by a comma")
    key, pos = m.group(1), m.end()
    fields: dict[str, str] = {}
    while True:
        while pos < len(text) and (text[pos].isspace() or text[pos] == ","):
            pos += 1
        if pos >= len(text):
            raise _BibError(f"no closing '{close}'")
        if text[pos] == close:
            return key, fields, pos + 1
        if text[pos] == "@":
            raise _BibError(f"no closing '{close}' before the next entry")
        fm = _FIELD.match(text, pos)
        if not fm:
            snippet = text[pos : pos + 20].split("\n")[0]
            raise _BibError(f"expected 'name = value' but found {snippet!r}")
        value, pos = _bib_value(text, fm.end(), close)
        fields[fm.group(1).lower()] = " ".join(value.split())


def parse_bibtex(text: str) -> Iterator[Entry]:
    """Entries of a BibTeX file; a broken entry is reported and parsing resumes after it."""
    pos, index = 0, 0
    line_starts = [0]
    line_starts.extend(m.end() for m in re.finditer("\n", text))

    def line_of(p: int) -> int:
        import bisect

        return bisect.bisect_right(line_starts, p)

    while True:
        m = _AT.search(text, pos)
        if not m:
            return
        kind = m.group(1).lower()
        close = "}" if m.group(2) == "{" else ")"
        if kind in ("comment", "preamble", "string"):
            try:
                pos = _braced(text, m.end() - 1) if close == "}" else text.index(")", m.end()) + 1
            except (_BibError, ValueError):
                pos = m.end()
            continue
        index += 1
        try:
            key, fields, pos = _bib_entry(text, m.end(), close)
        except _BibError as exc:
            # Resume at the next entry that starts a line: the usual shape of a file.
            nxt = re.compile(r"^\s*@", re.MULTILINE).search(text, m.end())
            pos = nxt.start() if nxt else len(text)
            yield Entry(index, f"entry {index}", line_of(m.start()), error=str(exc))
            continue
        yield _entry_from_fields(index, key, fields, line_of(m.start()))


def _entry_from_fields(index: int, key: str | None, f: dict[str, str], line: int) -> Entry:
    archive = (f.get("archiveprefix") or f.get("eprinttype") or "").lower()
    arxiv = None
    if f.get("eprint") and (archive in ("", "arxiv")):
        arxiv = arxiv_from_text(f["eprint"])
    for name in ("arxivid", "arxiv", "url", "journal", "note", "howpublished", "doi"):
        if arxiv:
            break
        arxiv = arxiv_from_text(f.get(name))
    doi = doi_from_text(f.get("doi")) or doi_from_text(f.get("url"))
    title = f.get("title") or None
    e = Entry(index, _label(key, title, index), line, arxiv, doi, title)
    if not (arxiv or doi or title):
        e.error = "no arXiv id, DOI or title"
    return e


# --- RIS --------------------------------------------------------------------------------------

_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  -( (.*))?$")


def parse_ris(text: str) -> Iterator[Entry]:
    """Entries of an RIS file (TY ... ER); an entry missing its ER is still read, and said so."""
    index = 0
    cur: dict[str, list[str]] | None = None
    start = 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r").lstrip("\ufeff")
        m = _RIS_LINE.match(line)
        if not m:
            if cur is not None and line.strip() and cur.get("_last"):
                tag = cur["_last"][0]
                cur[tag][-1] += " " + line.strip()  # continuation of a long field
            continue
        tag, value = m.group(1), (m.group(3) or "").strip()
        if tag == "TY":
            if cur is not None:
                index += 1
                yield _ris_entry(index, cur, start, "no 'ER  -' before the next 'TY  -'")
            cur, start = {}, n
            continue
        if cur is None:
            continue
        if tag == "ER":
            index += 1
            yield _ris_entry(index, cur, start, None)
            cur = None
            continue
        cur.setdefault(tag, []).append(value)
        cur["_last"] = [tag]
    if cur is not None:
        index += 1
        yield _ris_entry(index, cur, start, "the file ends without 'ER  -'")


def _ris_entry(index: int, f: dict[str, list[str]], line: int, problem: str | None) -> Entry:
    def first(*tags: str) -> str | None:
        for t in tags:
            if f.get(t):
                return f[t][0]
        return None

    title = first("TI", "T1", "CT", "BT")
    arxiv = None
    for t in ("UR", "L1", "L2", "LK", "N1", "M1", "AN", "JO", "JF", "T2", "DO", "ID"):
        for v in f.get(t, []):
            arxiv = arxiv or arxiv_from_text(v)
    doi = doi_from_text(first("DO")) or next(
        (d for v in f.get("UR", []) if (d := doi_from_text(v))), None
    )
    e = Entry(index, _label(first("ID"), title, index), line, arxiv, doi, title)
    if problem and not (arxiv or doi or title):
        e.error = problem
    elif not (arxiv or doi or title):
        e.error = "no arXiv id, DOI or title"
    return e


# --- CSL-JSON ---------------------------------------------------------------------------------


def parse_csl_json(text: str) -> Iterator[Entry]:
    """Entries of a CSL-JSON export (Zotero's "CSL JSON"): a list of item objects."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"the CSL-JSON file is not valid JSON (line {exc.lineno}): export it again from Zotero"
        ) from None
    if isinstance(data, dict):
        data = data.get("items", [data])
    if not isinstance(data, list):
        raise ImportFormatError("a CSL-JSON file must hold a list of items")
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            yield Entry(i, f"entry {i}", error="not a JSON object")
            continue
        title = item.get("title") if isinstance(item.get("title"), str) else None
        arxiv = None
        for k in ("number", "URL", "note", "archive_location", "container-title", "DOI", "id"):
            v = item.get(k)
            if isinstance(v, str) and not arxiv:
                arxiv = arxiv_from_text(v)
        doi = doi_from_text(item.get("DOI") if isinstance(item.get("DOI"), str) else None)
        key = item.get("citation-key") or item.get("id")
        e = Entry(i, _label(str(key) if key else None, title, i), 0, arxiv, doi, title)
        if not (arxiv or doi or title):
            e.error = "no arXiv id, DOI or title"
        yield e


# --- detection and matching -------------------------------------------------------------------


def detect_format(text: str, filename: str = "") -> str:
    """The format by file extension, else by content."""
    name = filename.lower()
    if name.endswith((".bib", ".bibtex")):
        return "bibtex"
    if name.endswith((".ris", ".txt")) and re.search(r"^TY  -", text, re.MULTILINE):
        return "ris"
    if name.endswith(".json"):
        return "csl-json"
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head in ("[", "{"):
        return "csl-json"
    if re.search(r"^TY  -", text[:5000], re.MULTILINE):
        return "ris"
    if "@" in text:
        return "bibtex"
    raise ImportFormatError(
        "could not tell the file's format: upload a BibTeX (.bib), RIS (.ris) or "
        "Zotero CSL-JSON (.json) export"
    )


def parse(text: str, fmt: str) -> list[Entry]:
    """All entries of a file in a known format."""
    if fmt == "bibtex":
        return list(parse_bibtex(text))
    if fmt == "ris":
        return list(parse_ris(text))
    if fmt == "csl-json":
        return list(parse_csl_json(text))
    raise ImportFormatError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def decode(data: bytes) -> str:
    """File bytes as text: UTF-8 (with or without BOM), else Latin-1 (old BibTeX files)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def import_library(
    db: Database,
    user_id: int,
    data: bytes,
    *,
    collection: str,
    filename: str = "",
    fmt: str | None = None,
) -> ImportReport:
    """Match a file's entries to stored papers and save them into a collection in ONE transaction.

    Either every matched entry is saved (report.committed) or, on any failure, none is.
    """
    text = decode(data)
    fmt = fmt or detect_format(text, filename)
    entries = parse(text, fmt)
    report = ImportReport(fmt, store_library.clean_name(collection))
    with db.write() as conn:
        ids_known = store_library.existing_ids(conn, [e.arxiv_id for e in entries if e.arxiv_id])
        by_doi = store_library.find_by_dois(conn, [e.doi for e in entries if e.doi])
        need_title = [
            title_key(e.title)
            for e in entries
            if e.title and not e.error and not (e.arxiv_id in ids_known or e.doi in by_doi)
        ]
        by_title = store_library.find_by_titles(conn, need_title)
        col = store_library.get_or_create_collection(conn, user_id, collection)
        report.collection = col.name
        already = {i.paper_id for i in store_library.items(conn, user_id, col.id)}
        seen: dict[str, int] = {}
        to_save: list[str] = []
        for e in entries:
            if e.error:
                where = f" (line {e.line})" if e.line else ""
                report.add(EntryResult(e.index, e.label, "broken", f"{e.error}{where}"))
                continue
            pid, how = None, ""
            if e.arxiv_id and e.arxiv_id in ids_known:
                pid, how = e.arxiv_id, f"arXiv {e.arxiv_id}"
            elif e.doi and e.doi in by_doi:
                pid, how = by_doi[e.doi], f"DOI {e.doi}"
            elif e.title:
                hits = by_title.get(title_key(e.title), [])
                if len(hits) == 1:
                    pid, how = hits[0][0], "title"
            if pid is None:
                tried = ", ".join(
                    x
                    for x in (
                        f"arXiv {e.arxiv_id}" if e.arxiv_id else "",
                        f"DOI {e.doi}" if e.doi else "",
                        "title" if e.title else "",
                    )
                    if x
                )
                report.add(
                    EntryResult(e.index, e.label, "unknown", f"no stored paper matches {tried}")
                )
                continue
            if pid in seen:
                report.add(
                    EntryResult(
                        e.index, e.label, "duplicate", f"same paper as entry {seen[pid]}", pid
                    )
                )
                continue
            seen[pid] = e.index
            if pid in already:
                report.add(
                    EntryResult(
                        e.index, e.label, "duplicate", f"already in '{col.name}' ({how})", pid
                    )
                )
                continue
            to_save.append(pid)
            report.add(EntryResult(e.index, e.label, "imported", f"matched by {how}", pid))
        store_library.save_many(conn, user_id, col.id, to_save, source="import")
    report.committed = True
    return report

"""arXiv OAI-PMH: ListRecords pages (arXiv, arXivRaw, oai_dc) parsed strictly into records."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from lxml import etree

from paperfeed.errors import ConfigError, InvalidId, UpstreamError
from paperfeed.models import Paper
from paperfeed.normalize import (
    InvalidRecord,
    clean_abstract,
    clean_text,
    first_version_date,
    parse_arxiv_id,
    parse_version,
    split_authors,
    split_categories,
)
from paperfeed.sources.base import Page, ResumeExpired, Window, checked_record
from paperfeed.sources.http import HttpClient

OAI = "http://www.openarchives.org/OAI/2.0/"
DC = "http://purl.org/dc/elements/1.1/"
FORMATS = {
    "arXiv": "http://arxiv.org/OAI/arXiv/",
    "arXivRaw": "http://arxiv.org/OAI/arXivRaw/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_format(prefix: str) -> str:
    """The metadata prefix if paperfeed can parse it, else ConfigError listing the valid ones."""
    if prefix not in FORMATS:
        raise ConfigError(
            f"unknown OAI-PMH format {prefix!r}: use one of {', '.join(sorted(FORMATS))}"
        )
    return prefix


def parse_xml(content: bytes, where: str) -> Any:
    """Parse XML strictly (no recovery, no entities, no network) or raise UpstreamError."""
    parser = etree.XMLParser(
        recover=False, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise UpstreamError(
            f"{where}: malformed or truncated XML ({exc}); nothing from this page was stored "
            "and the harvest cursor did not move, run the harvest again"
        ) from None


def parse_list_records(content: bytes, prefix: str, where: str = "OAI-PMH response") -> Page:
    """One ListRecords (or GetRecord) response as a Page; OAI errors raise, noRecordsMatch is empty."""
    root = parse_xml(content, where)
    if root.tag != f"{{{OAI}}}OAI-PMH":
        raise UpstreamError(
            f"{where}: not an OAI-PMH response (root element {root.tag!r}); "
            "check PAPERFEED_ARXIV_OAI_URL"
        )
    for err in root.findall(f"{{{OAI}}}error"):
        code = err.get("code", "")
        text = clean_text(err.text)
        if code == "noRecordsMatch":
            return Page()
        if code == "badResumptionToken":
            raise ResumeExpired(f"{where}: resumption token expired or invalid ({text})")
        raise UpstreamError(f"{where}: OAI-PMH error {code}: {text or 'no message'}")
    body = root.find(f"{{{OAI}}}ListRecords")
    if body is None:
        body = root.find(f"{{{OAI}}}GetRecord")
    if body is None:
        raise UpstreamError(f"{where}: OAI-PMH response has neither ListRecords nor an error")
    page = Page()
    for n, rec in enumerate(body.findall(f"{{{OAI}}}record"), start=1):
        header = rec.find(f"{{{OAI}}}header")
        ident = header.findtext(f"{{{OAI}}}identifier") if header is not None else None
        try:
            if header is not None and header.get("status") == "deleted":
                page.deleted.append(parse_arxiv_id(ident or "").id)
                continue
            meta = rec.find(f"{{{OAI}}}metadata")
            node = None if meta is None else meta.find(f"{{{FORMATS[prefix]}}}*")
            if node is None:
                raise InvalidRecord(f"record {ident} has no {prefix} metadata")
            page.records.append(checked_record(_PARSERS[prefix], node, ident))
        except (InvalidId, InvalidRecord) as exc:
            shown = clean_text(ident)[:80] or "?"
            page.errors.append(f"{where} record {n} ({shown}): {exc}")
    token = body.find(f"{{{OAI}}}resumptionToken")
    if token is not None:
        page.resume = (token.text or "").strip() or None
        size = token.get("completeListSize")
        page.total = int(size) if size and size.isdigit() else None
    return page


def _text(node: Any, ns: str, name: str) -> str | None:
    value = node.findtext(f"{{{ns}}}{name}")
    return clean_text(value) or None


def _day(value: str | None) -> datetime | None:
    if value and _DATE.match(value.strip()):
        return datetime.fromisoformat(value.strip())
    return None


def _rfc2822(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _id_of(node: Any, ns: str, ident: str | None) -> tuple[str, int | None]:
    aid = parse_arxiv_id(node.findtext(f"{{{ns}}}id") or ident or "")
    return aid.id, aid.version


def parse_arxiv(node: Any, ident: str | None = None) -> Paper:
    """An `arXiv`-format metadata element: structured authors, created/updated dates, no versions."""
    ns = FORMATS["arXiv"]
    pid, version = _id_of(node, ns, ident)
    authors = []
    for a in node.iterfind(f"{{{ns}}}authors/{{{ns}}}author"):
        parts = [
            a.findtext(f"{{{ns}}}forenames"),
            a.findtext(f"{{{ns}}}keyname"),
            a.findtext(f"{{{ns}}}suffix"),
        ]
        name = clean_text(" ".join(p for p in parts if p))
        if name:
            authors.append(name)
    return Paper(
        id=pid,
        title=_require_title(_text(node, ns, "title"), pid),
        abstract=clean_abstract(node.findtext(f"{{{ns}}}abstract")),
        authors=authors,
        categories=split_categories(_text(node, ns, "categories")),
        # This format carries no version numbers; 1 never overrides a newer stored version.
        version=version or 1,
        published=first_version_date(pid, _day(node.findtext(f"{{{ns}}}created"))),
        updated=_day(node.findtext(f"{{{ns}}}updated")),
        comments=_text(node, ns, "comments"),
        journal_ref=_text(node, ns, "journal-ref"),
        doi=_text(node, ns, "doi"),
        license=_text(node, ns, "license"),
    )


def parse_arxiv_raw(node: Any, ident: str | None = None) -> Paper:
    """An `arXivRaw` metadata element: every version with its date, authors as one string."""
    ns = FORMATS["arXivRaw"]
    pid, version = _id_of(node, ns, ident)
    versions: list[tuple[int, datetime | None]] = []
    for v in node.iterfind(f"{{{ns}}}version"):
        n = parse_version(v.get("version"))
        if n is not None:
            versions.append((n, _rfc2822(v.findtext(f"{{{ns}}}date"))))
    versions.sort(key=lambda t: t[0])
    return Paper(
        id=pid,
        title=_require_title(_text(node, ns, "title"), pid),
        abstract=clean_abstract(node.findtext(f"{{{ns}}}abstract")),
        authors=split_authors(node.findtext(f"{{{ns}}}authors")),
        categories=split_categories(_text(node, ns, "categories")),
        version=versions[-1][0] if versions else (version or 1),
        published=first_version_date(pid, versions[0][1] if versions else None),
        updated=versions[-1][1] if versions else None,
        comments=_text(node, ns, "comments"),
        journal_ref=_text(node, ns, "journal-ref"),
        doi=_text(node, ns, "doi"),
        license=_text(node, ns, "license"),
    )


def parse_oai_dc(node: Any, ident: str | None = None) -> Paper:
    """An `oai_dc` element: Dublin Core, so no categories and names as 'Last, First'."""
    texts = {
        name: [v for v in (node.findall(f"{{{DC}}}{name}")) if v.text and v.text.strip()]
        for name in ("title", "creator", "description", "date", "identifier")
    }
    pid: str | None = None
    doi = journal_ref = None
    for el in texts["identifier"]:
        value = el.text.strip()
        if value.lower().startswith("doi:"):
            doi = value[4:].strip()
        elif "arxiv.org/abs/" in value:
            pid = parse_arxiv_id(value).id
        elif not value.startswith("http"):
            journal_ref = clean_text(value)
    if ident:
        pid = parse_arxiv_id(ident).id
    if pid is None:
        raise UpstreamError("oai_dc record without an arXiv identifier")
    authors = []
    for el in texts["creator"]:
        last, _, first = el.text.partition(",")
        authors.append(clean_text(f"{first} {last}" if first.strip() else last))
    abstract, comments = "", None
    for el in texts["description"]:
        value = el.text.strip()
        if value.startswith("Comment:"):
            comments = clean_text(value.removeprefix("Comment:"))
        elif not abstract:
            abstract = clean_abstract(value)
    dates = sorted(d for d in (_day(el.text) for el in texts["date"]) if d is not None)
    title = clean_text(texts["title"][0].text) if texts["title"] else None
    return Paper(
        id=pid,
        title=_require_title(title, pid),
        abstract=abstract,
        authors=authors,
        published=first_version_date(pid, dates[0] if dates else None),
        updated=dates[-1] if dates else None,
        comments=comments,
        journal_ref=journal_ref,
        doi=doi,
    )


def _require_title(title: str | None, pid: str) -> str:
    if not title:
        raise UpstreamError(f"record {pid} has no title")
    return title


_PARSERS = {"arXiv": parse_arxiv, "arXivRaw": parse_arxiv_raw, "oai_dc": parse_oai_dc}


def _check_day(value: str | None, option: str) -> str | None:
    if value is None or value == "":
        return None
    if not _DATE.match(value):
        raise ConfigError(f"{option} must be a date like 2026-11-01, not {value!r}")
    date.fromisoformat(value)
    return value


class ArxivOaiSource:
    """arXiv's OAI-PMH ListRecords over a datestamp window, following resumption tokens."""

    name = "arxiv"

    def __init__(
        self,
        client: HttpClient,
        url: str,
        *,
        set_: str | None = None,
        prefix: str = "arXivRaw",
        from_: str | None = None,
        until: str | None = None,
        backfill_days: int = 3,
    ) -> None:
        self.client = client
        self.url = url
        self.set = set_ or None
        self.prefix = check_format(prefix)
        self.from_ = _check_day(from_, "--from")
        self.until = _check_day(until, "--until")
        self.backfill_days = backfill_days
        if self.from_ and self.until and self.from_ > self.until:
            raise ConfigError(f"--from {self.from_} is after --until {self.until}")

    def key(self) -> str:
        """One cursor per set: switching formats keeps the set's place."""
        return f"arxiv:{self.set or 'all'}"

    def plan(self, cursor: str | None, today: date) -> dict[str, str]:
        """Explicit --from wins; else the last complete run's end (re-read, idempotent); else backfill."""
        start = self.from_ or cursor or (today - timedelta(days=self.backfill_days)).isoformat()
        return {
            "from": start,
            "until": self.until or "",
            "set": self.set or "",
            "prefix": self.prefix,
            "planned": today.isoformat(),
        }

    def cursor_after(self, window: Window) -> str | None:
        """The window's end: the next run starts there again, since datestamps are per day."""
        return window["until"] or window["planned"]

    def pages(self, window: Window, resume: str | None) -> Iterator[Page]:
        """Fetch ListRecords pages; a resumption token continues an interrupted run."""
        token = resume
        n = 0
        while True:
            n += 1
            params: dict[str, str | None]
            if token:
                params = {"verb": "ListRecords", "resumptionToken": token}
            else:
                params = {
                    "verb": "ListRecords",
                    "metadataPrefix": window["prefix"],
                    "from": window["from"],
                    "until": window["until"] or None,
                    "set": window["set"] or None,
                }
            resp = self.client.get(self.url, params, accept=(400, 422))
            page = parse_list_records(
                resp.content, window["prefix"], where=f"OAI-PMH page {n} ({self.url})"
            )
            page.label = f"page {n}"
            yield page
            if page.resume is None:
                return
            token = page.resume

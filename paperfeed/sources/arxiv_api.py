"""arXiv API (Atom): look papers up by id, singly or in batches, and run searches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from paperfeed.errors import ConfigError, UpstreamError
from paperfeed.models import ImportRecord, Paper
from paperfeed.normalize import (
    InvalidRecord,
    clean_abstract,
    clean_text,
    first_version_date,
    is_category,
    parse_arxiv_id,
)
from paperfeed.sources.arxiv_oai import parse_xml
from paperfeed.sources.base import Page, Window, checked_record
from paperfeed.sources.http import HttpClient

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ID_BATCH = 100  # ids per id_list request: arXiv's documented page size for the API


@dataclass
class AtomFeed:
    """One API response: its papers, the total matching, and entries that could not be parsed."""

    papers: list[Paper] = field(default_factory=list)
    total: int = 0
    start: int = 0
    errors: list[str] = field(default_factory=list)


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _int(value: str | None) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        return 0


def parse_feed(content: bytes, where: str = "arXiv API response") -> AtomFeed:
    """Parse an Atom feed; the API's error entry raises UpstreamError with arXiv's own message."""
    root = parse_xml(content, where)
    if root.tag != f"{{{ATOM}}}feed":
        raise UpstreamError(f"{where}: not an Atom feed; check PAPERFEED_ARXIV_API_URL")
    feed = AtomFeed(
        total=_int(root.findtext(f"{{{OPENSEARCH}}}totalResults")),
        start=_int(root.findtext(f"{{{OPENSEARCH}}}startIndex")),
    )
    for n, entry in enumerate(root.findall(f"{{{ATOM}}}entry"), start=1):
        entry_id = entry.findtext(f"{{{ATOM}}}id") or ""
        if "/api/errors" in entry_id or entry.findtext(f"{{{ATOM}}}title") == "Error":
            message = clean_text(entry.findtext(f"{{{ATOM}}}summary")) or entry_id
            raise UpstreamError(f"{where}: arXiv API error: {message}")
        try:
            feed.papers.append(checked_record(parse_entry, entry).paper)
        except InvalidRecord as exc:
            shown = clean_text(entry_id)[:80] or "?"
            feed.errors.append(f"{where} entry {n} ({shown}): {exc}")
    return feed


def parse_entry(entry: Any) -> Paper:
    """One Atom entry as a Paper; its id URL carries the latest version."""
    aid = parse_arxiv_id(entry.findtext(f"{{{ATOM}}}id") or "")
    title = clean_text(entry.findtext(f"{{{ATOM}}}title"))
    if not title:
        raise UpstreamError(f"entry {aid.id} has no title")
    primary = entry.find(f"{{{ARXIV}}}primary_category")
    categories: list[str] = []
    if primary is not None and primary.get("term"):
        categories.append(primary.get("term"))
    for c in entry.findall(f"{{{ATOM}}}category"):
        term = c.get("term")
        # The API also lists ACM and MSC classes (I.2.7, 68T50) as categories: not arXiv ones.
        if term and is_category(term) and term not in categories:
            categories.append(term)
    doi = clean_text(entry.findtext(f"{{{ARXIV}}}doi")) or None
    return Paper(
        id=aid.id,
        title=title,
        abstract=clean_abstract(entry.findtext(f"{{{ATOM}}}summary")),
        authors=[
            clean_text(a.findtext(f"{{{ATOM}}}name"))
            for a in entry.findall(f"{{{ATOM}}}author")
            if clean_text(a.findtext(f"{{{ATOM}}}name"))
        ],
        categories=categories,
        version=aid.version or 1,
        published=first_version_date(aid.id, _time(entry.findtext(f"{{{ATOM}}}published"))),
        updated=_time(entry.findtext(f"{{{ATOM}}}updated")),
        comments=clean_text(entry.findtext(f"{{{ARXIV}}}comment")) or None,
        journal_ref=clean_text(entry.findtext(f"{{{ARXIV}}}journal_ref")) or None,
        doi=doi,
    )


def fetch_ids(client: HttpClient, url: str, ids: Sequence[str]) -> AtomFeed:
    """Look up one batch of ids (at most ID_BATCH) with id_list."""
    params: dict[str, Any] = {"id_list": ",".join(ids), "start": 0, "max_results": len(ids)}
    # The API answers bad ids with HTTP 400 and an Atom error entry that says which id.
    resp = client.get(url, params, accept=(400,))
    return parse_feed(resp.content, where=f"arXiv API id_list={params['id_list'][:80]}")


def search(
    client: HttpClient, url: str, query: str, *, start: int = 0, max_results: int = 50
) -> AtomFeed:
    """One page of an arXiv API search_query."""
    params = {"search_query": query, "start": start, "max_results": max_results}
    resp = client.get(url, params, accept=(400,))
    return parse_feed(resp.content, where=f"arXiv API search_query={query[:80]}")


class ArxivIdsSource:
    """Look up listed ids through the arXiv API, ID_BATCH per request (submissions, backfill)."""

    name = "arxiv-ids"

    def __init__(self, client: HttpClient, url: str, *, ids: Sequence[str] = ()) -> None:
        self.client = client
        self.url = url
        if not ids:
            raise ConfigError("give at least one arXiv id to look up, e.g. 2401.01234")
        # Versions are dropped from the request: the API then returns the latest version.
        self.ids = list(dict.fromkeys(parse_arxiv_id(i).id for i in ids))

    def key(self) -> str:
        """Lookups have no cursor of their own; runs are still recorded under this name."""
        return "arxiv-ids"

    def plan(self, cursor: str | None, today: date) -> dict[str, str]:
        """The window is the id list itself."""
        return {"ids": ",".join(self.ids)}

    def cursor_after(self, window: Window) -> str | None:
        """Id lookups leave no cursor."""
        return None

    def pages(self, window: Window, resume: str | None) -> Iterator[Page]:
        """One page per batch; the resume marker is the index of the next batch's first id."""
        ids = window["ids"].split(",")
        start = int(resume or 0)
        for i in range(start, len(ids), ID_BATCH):
            batch = ids[i : i + ID_BATCH]
            feed = fetch_ids(self.client, self.url, batch)
            found = {p.id for p in feed.papers}
            missing = [f"{pid}: not found on arXiv" for pid in batch if pid not in found]
            nxt = i + ID_BATCH
            yield Page(
                records=[ImportRecord(p) for p in feed.papers],
                resume=str(nxt) if nxt < len(ids) else None,
                total=len(ids),
                errors=feed.errors + missing,
                label=f"ids {i + 1}-{i + len(batch)}",
            )

"""Trending page, the Atom feed writer and feeds, BibTeX exports."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from fastapi import Request
from lxml import etree
from starlette.responses import Response

from paperfeed.config import Settings
from paperfeed.errors import NotFound
from paperfeed.models import FeedFilter, FeedItem, Paper
from paperfeed.service import papers
from paperfeed.store import Database
from paperfeed.web import sources as source_pages  # bio: source=/cat= filters
from paperfeed.web import views
from paperfeed.web.bibtex import bib_key, bibtex, bibtex_entry
from paperfeed.web.context import db_of, path_for, render, settings_of

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
BIBTEX_TYPE = "application/x-bibtex; charset=utf-8"


# --- trending ---------------------------------------------------------------------------------


trending_rows = papers.trending


def trending_page(request: Request) -> Response:
    """Papers by trending score with why each is trending (votes in 24 h, stars gained)."""
    settings = settings_of(request)
    page = views.parse_page(request.query_params.get("p"), first=1)
    size = settings.page_size
    rows, total = trending_rows(db_of(request), page=page, size=size)
    base = path_for(request, "trending")
    pages = max(1, -(-total // size))
    context = {
        "rows": rows,
        "first_rank": page * size + 1,
        "computed_at": rows[0][1].computed_at if rows else None,
        "prev_page_url": (base if page == 1 else f"{base}?p={page}") if page > 0 else None,
        "next_page_url": f"{base}?p={page + 2}" if page + 1 < pages else None,
        "period": None,
        "feeds": trending_links(request),
    }
    return render(
        request,
        "trending.html",
        context,
        status_code=200 if rows or not page else 404,
        cards=[item.paper.id for item, _ in rows],
    )


sorted_items = papers.sorted_items


# --- Atom -------------------------------------------------------------------------------------

# Entries per feed document: a busy week (~110 featured papers) fits in one; longer lists are
# paged with RFC 5005 section 3 links (first, previous, next, last) and ?p=N.
FEED_ITEMS = 200
# The <updated> of a feed or entry with no known time: fixed, so the ETag stays stable.
EPOCH = datetime(1970, 1, 1)
# Everything outside XML 1.0's Char production (C0 controls, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

AtomItem = tuple[Paper, datetime | None, str | None]  # paper, featured time, extra summary line


@dataclass(frozen=True, slots=True)
class FeedLinks:
    """A list page's machine-readable twins: base.html puts atom in <head>, _feed_links.html shows both."""

    title: str
    atom: str
    bibtex: str | None = None


@dataclass(frozen=True, slots=True)
class Paging:
    """Which page of a long list one feed document holds (0-based), for RFC 5005 paging links."""

    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        """How many feed documents the list needs (at least 1)."""
        return max(1, -(-self.total // self.size))


def xml_safe(text: str) -> str:
    """The text without the characters XML 1.0 cannot carry, so a feed is always well-formed."""
    return _NOT_XML_CHAR.sub("", text)


def _atom_time(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry_time(paper: Paper, at: datetime | None) -> datetime:
    return at or paper.updated or paper.published or EPOCH


def feed_updated(papers: Sequence[AtomItem]) -> datetime:
    """The feed's <updated> and Last-Modified: its newest entry's time (EPOCH when empty)."""
    return max((_entry_time(p, at) for p, at, _ in papers), default=EPOCH)


def page_url(url: str, page: int) -> str:
    """A list URL with its 1-based ?p= set for a 0-based page (and dropped for the first)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "p"]
    if page > 0:
        query.append(("p", str(page + 1)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def atom_feed(
    settings: Settings,
    *,
    title: str,
    self_path: str,
    html_path: str,
    papers: Sequence[AtomItem],
    paging: Paging | None = None,
) -> bytes:
    """An Atom document listing papers; every string passes xml_safe, so it is always valid."""
    base = settings.base_url.rstrip("/")
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})

    def sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
        # The one place text enters the document: lxml refuses control characters outright.
        el = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}")
        for key, value in attrs.items():
            el.set(key, xml_safe(value))
        if text is not None:
            el.text = xml_safe(text)
        return el

    page = paging.page if paging else 0
    self_url = base + page_url(self_path, page)
    sub(feed, "id", base + page_url(self_path, 0))  # every page of a paged feed is one feed
    sub(feed, "title", title)
    sub(feed, "updated", _atom_time(feed_updated(papers)))
    author = sub(feed, "author")  # RFC 4287 4.1.1: covers entries whose authors are unknown
    sub(author, "name", settings.site_name)
    sub(author, "uri", base + "/")
    sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=base + html_path, type="text/html")
    if paging and paging.pages > 1:
        last = paging.pages - 1
        sub(feed, "link", rel="first", href=base + page_url(self_path, 0))
        if page > 0:
            sub(
                feed,
                "link",
                rel="previous",
                href=base + page_url(self_path, min(page, last + 1) - 1),
            )
        if page < last:
            sub(feed, "link", rel="next", href=base + page_url(self_path, page + 1))
        sub(feed, "link", rel="last", href=base + page_url(self_path, last))
    sub(feed, "generator", "paperfeed")
    for paper, at, extra in papers:
        entry = sub(feed, "entry")
        url = base + "/papers/" + quote(paper.id)
        sub(entry, "id", url)
        sub(entry, "title", paper.title)
        sub(entry, "updated", _atom_time(_entry_time(paper, at)))
        if paper.published:
            sub(entry, "published", _atom_time(paper.published))
        sub(entry, "link", rel="alternate", href=url, type="text/html")
        sub(entry, "link", rel="related", href=paper.abs_url, title="arXiv")
        for name in paper.authors[:50]:
            if xml_safe(name).strip():
                sub(sub(entry, "author"), "name", name)
        for cat in paper.categories:
            sub(entry, "category", term=cat)
        summary = paper.abstract if not extra else f"{extra}\n\n{paper.abstract}"
        sub(entry, "summary", summary, type="text")
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8")  # type: ignore[no-any-return]


def _etags(header: str) -> set[str]:
    # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def not_modified(request: Request, etag: str, updated: datetime) -> bool:
    """True when the client's copy is current: If-None-Match first, else If-Modified-Since."""
    match = request.headers.get("if-none-match")
    if match is not None:  # RFC 9110 13.1.3: ignore If-Modified-Since when this is present
        tags = _etags(match)
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False  # a malformed date is ignored, as RFC 9110 13.1.3 says
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return updated.replace(tzinfo=UTC, microsecond=0) <= when


def feed_response(
    request: Request, body: bytes, updated: datetime, *, private: bool = False
) -> Response:
    """The feed with a strong ETag (a hash of the bytes) and Last-Modified; 304 when unchanged."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(updated.replace(tzinfo=UTC), usegmt=True),
        # Readers poll hourly at most; private feeds stay out of shared caches.
        "Cache-Control": "private, max-age=300" if private else "public, max-age=300",
    }
    if not_modified(request, etag, updated):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=ATOM_TYPE, headers=headers)


def atom_response(
    request: Request,
    *,
    title: str,
    html_path: str,
    papers: Sequence[AtomItem],
    paging: Paging | None = None,
    private: bool = False,
) -> Response:
    """An Atom feed of papers for this request's URL, answering conditional GETs."""
    if paging and paging.page > 0 and paging.page >= paging.pages:
        raise NotFound(f"this feed has {paging.pages} page{'s' if paging.pages != 1 else ''}")
    path = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    body = atom_feed(
        settings_of(request),
        title=title,
        self_path=path,
        html_path=html_path,
        papers=papers,
        paging=paging,
    )
    return feed_response(request, body, feed_updated(papers), private=private)


def feed_page(request: Request) -> int:
    """The 0-based page of a feed from its ?p= (1-based, like the pages)."""
    return views.parse_page(request.query_params.get("p"), first=1)


def _period_from_query(request: Request, db: Database) -> views.Period | None:
    q = request.query_params
    chosen = [k for k in ("date", "week", "month") if q.get(k)]
    if len(chosen) > 1:
        raise views.BadRequest("give at most one of date, week and month")
    if q.get("date"):
        return views.parse_day(q["date"])
    if q.get("week"):
        return views.parse_week(q["week"])
    if q.get("month"):
        return views.parse_month(q["month"])
    return views.latest_period(db, _filter(request))


def _filter(request: Request) -> FeedFilter:
    return source_pages.request_filter(request)


def _period_query(period: views.Period | None) -> str:
    if period is None:
        return ""
    return "?" + urlencode({{"day": "date"}.get(period.kind, period.kind): period.key})


def period_links(request: Request, period: views.Period | None, *, latest: bool) -> FeedLinks:
    """The feeds of a day, week or month page (of the home page, following the latest day)."""
    query = "" if latest else _period_query(period)
    query += source_pages.filter_query(request, first=not query)
    label = "latest day" if latest or period is None else period.label
    return FeedLinks(
        f"Daily Papers – {label}",
        path_for(request, "feed_atom") + query,
        path_for(request, "feed_bibtex") + query,
    )


def trending_links(request: Request) -> FeedLinks:
    """The feeds of the trending page."""
    return FeedLinks(
        "Trending papers", path_for(request, "trending_atom"), path_for(request, "trending_bibtex")
    )


def _period_view(request: Request) -> tuple[views.Period | None, views.FeedView]:
    db = db_of(request)
    period = _period_from_query(request, db)
    if period is None:
        return None, views.FeedView(None, page_size=FEED_ITEMS)
    only = _filter(request)
    view = views.feed_view(db, period, page=feed_page(request), page_size=FEED_ITEMS, only=only)
    return period, view


def _feed_items(request: Request) -> tuple[views.Period | None, list[FeedItem]]:
    period, view = _period_view(request)
    return period, view.items


def daily_atom(request: Request) -> Response:
    """An Atom feed of a day, week or month (default: the latest day), most upvoted first."""
    settings = settings_of(request)
    period, view = _period_view(request)
    label = period.label if period else "no papers yet"
    # The latest-day feed follows the home page; a named period's feed is that period's page.
    named = any(request.query_params.get(k) for k in ("date", "week", "month"))
    html = (
        path_for(request, f"papers_{period.kind}", **{period.kind: period.key})
        if period and named
        else path_for(request, "home")
    )
    return atom_response(
        request,
        title=f"{settings.site_name} – Daily Papers – {label}",
        html_path=html,
        papers=[
            (i.paper, i.submitted_at or datetime.combine(i.day, datetime.min.time()), None)
            for i in view.items
        ],
        paging=Paging(view.page, view.page_size, view.total),
    )


def trending_atom(request: Request) -> Response:
    """An Atom feed of the trending list with why each paper is trending."""
    settings = settings_of(request)
    page = feed_page(request)
    rows, total = trending_rows(db_of(request), page=page, size=FEED_ITEMS)
    return atom_response(
        request,
        title=f"{settings.site_name} – Trending papers",
        html_path=path_for(request, "trending"),
        papers=[
            (
                item.paper,
                s.computed_at,
                f"Trending: {s.votes_24h} votes in the last 24 h, "
                f"{int(s.stars_gained)} GitHub stars gained.",
            )
            for item, s in rows
        ],
        paging=Paging(page, FEED_ITEMS, total),
    )


# --- BibTeX -----------------------------------------------------------------------------------


def _bib_response(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type=BIBTEX_TYPE,
        headers={"Content-Disposition": f'inline; filename="{filename}.bib"'},
    )


def paper_bibtex(request: Request, arxiv_id: str) -> Response:
    """One paper as BibTeX."""
    view = views.paper_view(db_of(request), arxiv_id, redirect=False)
    return _bib_response(bibtex_entry(view.paper), bib_key(view.paper))


def feed_bibtex(request: Request) -> Response:
    """A day, week or month (default: the latest day) as BibTeX, most upvoted first."""
    period, items = _feed_items(request)
    name = f"papers-{period.key}" if period else "papers"
    return _bib_response(bibtex([i.paper for i in items]), name)


def trending_bibtex(request: Request) -> Response:
    """The trending list as BibTeX."""
    rows, _ = trending_rows(db_of(request), page=0, size=FEED_ITEMS)
    return _bib_response(bibtex([i.paper for i, _ in rows]), "trending")

"""Trending page and its JSON twin, Atom feeds and BibTeX exports for papers and lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from lxml import etree
from starlette.responses import Response

from paperfeed.errors import PaperfeedError
from paperfeed.models import FeedItem, Paper, TrendingScore
from paperfeed.store import Database
from paperfeed.store import trending as trending_store
from paperfeed.web import views
from paperfeed.web.bibtex import bib_key, bibtex, bibtex_entry
from paperfeed.web.context import db_of, path_for, render, settings_of

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
BIBTEX_TYPE = "application/x-bibtex; charset=utf-8"
FEED_ITEMS = 50


# --- trending ---------------------------------------------------------------------------------


def _trending_rows(
    db: Database, *, page: int, size: int
) -> tuple[list[tuple[FeedItem, TrendingScore]], int]:
    with db.read() as conn:
        return trending_store.top(conn, limit=size, offset=page * size), trending_store.count(conn)


def trending_page(request: Request) -> Response:
    """Papers by trending score with why each is trending (votes in 24 h, stars gained)."""
    settings = settings_of(request)
    page = views.parse_page(request.query_params.get("p"), first=1)
    size = settings.page_size
    rows, total = _trending_rows(db_of(request), page=page, size=size)
    base = path_for(request, "trending")
    pages = max(1, -(-total // size))
    context = {
        "rows": rows,
        "first_rank": page * size + 1,
        "computed_at": rows[0][1].computed_at if rows else None,
        "prev_page_url": (base if page == 1 else f"{base}?p={page}") if page > 0 else None,
        "next_page_url": f"{base}?p={page + 2}" if page + 1 < pages else None,
        "period": None,
    }
    return render(
        request,
        "trending.html",
        context,
        status_code=200 if rows or not page else 404,
        cards=[item.paper.id for item, _ in rows],
    )


def api_trending(request: Request, p: str | None = None, limit: str | None = None) -> JSONResponse:
    """Trending papers in the daily_papers item shape, each with a `trending` explanation."""
    from paperfeed.web.api import daily_item_json, iso

    page = views.parse_page(p, first=0)
    size = views.parse_limit(limit, 50)
    rows, total = _trending_rows(db_of(request), page=page, size=size)
    out = []
    for item, score in rows:
        entry = daily_item_json(item)
        entry["trending"] = {
            "score": round(score.score, 6),
            "votesLast24h": score.votes_24h,
            "starsGained": score.stars_gained,
            "computedAt": iso(score.computed_at),
        }
        out.append(entry)
    return JSONResponse(out, headers={"X-Total-Count": str(total)})


def sorted_items(
    db: Database,
    period: views.Period | None,
    *,
    sort: str,
    submitter: str | None,
    page: int,
    size: int,
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
        )
        total = trending_store.count_sorted(conn, start, end, submitter=submitter)
    return items, total


# --- Atom -------------------------------------------------------------------------------------


def _atom_time(value: datetime | None) -> str:
    value = value or datetime.now(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml_text(text: str) -> str:
    # XML 1.0 forbids most C0 controls; stored text is cleaned, but feeds must never break.
    return "".join(c for c in text if c >= " " or c in "\t\n\r")


def atom_feed(
    settings_base: str,
    *,
    title: str,
    self_path: str,
    html_path: str,
    papers: Sequence[tuple[Paper, datetime | None, str | None]],
) -> bytes:
    """An Atom document listing papers (paper, featured time, extra summary line)."""
    base = settings_base.rstrip("/")
    E = etree.Element
    feed = E(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})

    def sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
        el = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", **attrs)
        if text is not None:
            el.text = _xml_text(text)
        return el

    sub(feed, "id", base + self_path)
    sub(feed, "title", title)
    times = [t for _, t, _ in papers if t]
    sub(feed, "updated", _atom_time(max(times) if times else None))
    sub(feed, "link", rel="self", href=base + self_path, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=base + html_path, type="text/html")
    sub(feed, "generator", "paperfeed")
    for paper, at, extra in papers:
        entry = sub(feed, "entry")
        sub(entry, "id", f"{base}/papers/{paper.id}")
        sub(entry, "title", paper.title)
        sub(entry, "updated", _atom_time(at or paper.updated or paper.published))
        if paper.published:
            sub(entry, "published", _atom_time(paper.published))
        sub(entry, "link", rel="alternate", href=f"{base}/papers/{paper.id}", type="text/html")
        sub(entry, "link", rel="related", href=paper.abs_url, title="arXiv")
        for name in paper.authors[:50]:
            author = sub(entry, "author")
            sub(author, "name", name)
        for cat in paper.categories:
            sub(entry, "category", term=cat)
        summary = paper.abstract if not extra else f"{extra}\n\n{paper.abstract}"
        sub(entry, "summary", summary, type="text")
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8")  # type: ignore[no-any-return]


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
    return views.latest_period(db)


def _feed_items(request: Request) -> tuple[views.Period | None, list[FeedItem]]:
    db = db_of(request)
    period = _period_from_query(request, db)
    if period is None:
        return None, []
    view = views.feed_view(db, period, page=0, page_size=FEED_ITEMS)
    return period, view.items


def daily_atom(request: Request) -> Response:
    """An Atom feed of a day, week or month (default: the latest day), most upvoted first."""
    settings = settings_of(request)
    period, items = _feed_items(request)
    label = period.label if period else "no papers yet"
    body = atom_feed(
        settings.base_url,
        title=f"{settings.site_name} – Daily Papers – {label}",
        self_path=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        html_path="/",
        papers=[
            (i.paper, i.submitted_at or datetime.combine(i.day, datetime.min.time()), None)
            for i in items
        ],
    )
    return Response(body, media_type=ATOM_TYPE)


def trending_atom(request: Request) -> Response:
    """An Atom feed of the trending list with why each paper is trending."""
    settings = settings_of(request)
    rows, _ = _trending_rows(db_of(request), page=0, size=FEED_ITEMS)
    body = atom_feed(
        settings.base_url,
        title=f"{settings.site_name} – Trending papers",
        self_path="/papers/trending.atom",
        html_path="/papers/trending",
        papers=[
            (
                item.paper,
                s.computed_at,
                f"Trending: {s.votes_24h} votes in the last 24 h, "
                f"{int(s.stars_gained)} GitHub stars gained.",
            )
            for item, s in rows
        ],
    )
    return Response(body, media_type=ATOM_TYPE)


def search_atom(request: Request) -> Response:
    """An Atom feed of a search (same parameters as /search: q, mode, sort)."""
    from paperfeed.search.service import search

    settings = settings_of(request)
    q = request.query_params.get("q", "")[:500]
    if not q.strip():
        raise views.BadRequest("give a search query: /search.atom?q=words")
    try:
        result = search(
            db_of(request),
            settings,
            q,
            mode=request.query_params.get("mode", "hybrid"),
            sort=request.query_params.get("sort", "relevance"),
            limit=FEED_ITEMS,
        )
    except ValueError as exc:  # QueryError is a ValueError: a clear 400, not a 500
        raise views.BadRequest(str(exc)) from None
    except PaperfeedError as exc:  # e.g. the search index is not built yet
        raise HTTPException(503, str(exc)) from None
    body = atom_feed(
        settings.base_url,
        title=f"{settings.site_name} – search: {q}",
        self_path=str(request.url.path) + f"?{request.url.query}",
        html_path=f"/search?{request.url.query}",
        papers=[(p, None, None) for p in result.papers],
    )
    return Response(body, media_type=ATOM_TYPE)


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
    rows, _ = _trending_rows(db_of(request), page=0, size=FEED_ITEMS)
    return _bib_response(bibtex([i.paper for i, _ in rows]), "trending")

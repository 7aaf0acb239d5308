"""HTML page handlers: thin twins of the JSON API over the same view functions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.responses import Response

from paperfeed.errors import NotFound
from paperfeed.service import papers
from paperfeed.web import feeds, fulltext, views  # noqa: F401  (fulltext: the page's template global)
from paperfeed.web import sources as source_pages  # bio: source=/cat= filters
from paperfeed.web.context import db_of, path_for, render, settings_of
from paperfeed.web.pagecache import visitor_page

# Route name and path parameter of each period kind, for building prev/next links.
PERIOD_ROUTES = {
    "day": ("papers_day", "day"),
    "week": ("papers_week", "week"),
    "month": ("papers_month", "month"),
}


def period_path(request: Request, period: views.Period) -> str:
    """The page URL of a day, week or month."""
    name, param = PERIOD_ROUTES[period.kind]
    return path_for(request, name, **{param: period.key})


def _page_url(request: Request, base: str, page: int) -> str:
    url = base if page == 0 else f"{base}?p={page + 1}"
    return source_pages.with_filter(request, url) or url


def _feed_page(
    request: Request, view: views.FeedView, *, base: str, status: int = 200, latest: bool = False
) -> Response:
    period = view.period
    if status == 200 and view.total and view.page >= view.pages:
        status = 404
    context = {
        "view": view,
        "period": period,
        "anchor": period.start if period else None,
        "prev_url": source_pages.with_filter(
            request, period_path(request, view.prev) if view.prev else None
        ),
        "next_url": source_pages.with_filter(
            request, period_path(request, view.next) if view.next else None
        ),
        "prev_page_url": _page_url(request, base, view.page - 1) if view.page > 0 else None,
        "next_page_url": (
            _page_url(request, base, view.page + 1) if view.page + 1 < view.pages else None
        ),
        "feeds": feeds.period_links(request, period, latest=latest),
    }
    if period is not None:
        context["week_url"] = period_path(request, views.week_period(period.start))
        context["month_url"] = period_path(request, views.month_period(period.start))
    return render(
        request, "feed.html", context, status_code=status, cards=[i.paper.id for i in view.items]
    )


def _page_param(request: Request) -> int:
    return views.parse_page(request.query_params.get("p"), first=1)


@visitor_page
def home(request: Request) -> Response:
    """The latest day with featured papers, most upvoted first."""
    db, settings = db_of(request), settings_of(request)
    only = source_pages.request_filter(request)
    view = views.latest_view(db, page=_page_param(request), page_size=settings.page_size, only=only)
    return _feed_page(request, view, base=path_for(request, "home"), latest=True)


def _period_page(request: Request, period: views.Period) -> Response:
    settings = settings_of(request)
    only = source_pages.request_filter(request)
    view = views.feed_view(
        db_of(request), period, page=_page_param(request), page_size=settings.page_size, only=only
    )
    # A valid date with nothing featured is a 404, but the page still offers the neighbours.
    return _feed_page(
        request, view, base=period_path(request, period), status=200 if view.total else 404
    )


def _in_path(parse: Callable[[str], views.Period], text: str) -> views.Period:
    try:
        return parse(text)
    except views.InvalidPeriod as exc:
        # A malformed date in the path names a page that does not exist.
        raise NotFound(str(exc)) from None


@visitor_page
def day_page(request: Request, day: str) -> Response:
    """One day's featured papers (YYYY-MM-DD)."""
    return _period_page(request, _in_path(views.parse_day, day))


def day_pick(request: Request) -> Response:
    """The day picker's answer (?day=YYYY-MM-DD, a GET form that needs no JavaScript): redirect."""
    text = (request.query_params.get("day") or "").strip()
    if not text:
        return RedirectResponse(path_for(request, "home"), status_code=303)
    # A bad date is the reader's typo: a 400 page saying the expected form, not a 404.
    period = views.parse_day(text)
    return RedirectResponse(period_path(request, period), status_code=303)


def favicon(request: Request) -> Response:
    """/favicon.ico, which browsers and crawlers ask for on their own: the SVG icon."""
    url = path_for(request, "static", path="/favicon.svg")
    return RedirectResponse(url, status_code=301, headers={"Cache-Control": "max-age=86400"})


@visitor_page
def week_page(request: Request, week: str) -> Response:
    """One ISO week's featured papers (YYYY-Www)."""
    return _period_page(request, _in_path(views.parse_week, week))


@visitor_page
def month_page(request: Request, month: str) -> Response:
    """One month's featured papers (YYYY-MM)."""
    return _period_page(request, _in_path(views.parse_month, month))


def _latest_of(request: Request, make: Callable[[date], views.Period]) -> Response:
    period = views.latest_period(db_of(request))
    if period is None:
        return RedirectResponse(path_for(request, "home"), status_code=302)
    target = make(period.start)
    return RedirectResponse(period_path(request, target), status_code=302)


def latest_week(request: Request) -> Response:
    """Redirect to the week of the latest featured day."""
    return _latest_of(request, views.week_period)


def latest_month(request: Request) -> Response:
    """Redirect to the month of the latest featured day."""
    return _latest_of(request, views.month_period)


def paper_page(request: Request, arxiv_id: str) -> Response:
    """One paper: full abstract, all authors, links, categories, dates and upvotes."""
    if arxiv_id.endswith(".md"):
        text = papers.paper_markdown(
            db_of(request),
            arxiv_id.removesuffix(".md"),
            arxiv_html_url=settings_of(request).arxiv_html_url,
        )
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
    try:
        view = views.paper_view(db_of(request), arxiv_id)
    except views.CanonicalRedirect as redirect:
        # 308 keeps the method; versioned ids and arxiv.org URLs all land on one canonical page.
        return RedirectResponse(
            path_for(request, "paper", arxiv_id=redirect.canonical), status_code=308
        )
    context = {
        "view": view,
        "paper": view.paper,
        "anchor": view.days[-1] if view.days else None,
        "day_urls": [(d, period_path(request, views.day_period(d))) for d in view.days],
        "hub_base": settings_of(request).hf_hub_url.rstrip("/"),
    }
    return render(request, "paper.html", context)

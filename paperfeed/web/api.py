"""JSON API handlers in the Hugging Face Papers API shape, thin twins of the pages."""

from __future__ import annotations

import base64
import html
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse

from paperfeed.errors import InvalidId, NotFound
from paperfeed.models import FeedEntry, FeedItem, Organization, Paper
from paperfeed.search import QueryError, SearchUnavailable, search
from paperfeed.search.service import MAX_LIMIT  # the Hub accepts limit 1 to 120
from paperfeed.service import claims as claim_service
from paperfeed.store import claims as claim_store
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store
from paperfeed.web import feeds, views
from paperfeed.web import sources as source_pages  # bio: source=/cat= filters
from paperfeed.web.context import db_of, settings_of

API_DEFAULT_LIMIT = 50  # huggingface_hub documents 50 as the daily_papers default
SEARCH_DEFAULT_LIMIT = 20
SEARCH_MAX_QUERY = 250  # ...and refuses longer queries
HUB = "https://huggingface.co"

# A year 0001-9999 (date() has no year 0), then an ISO week 01-53 or a month 01-12.
_YEAR = r"(?:[1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])"
WEEK_PATTERN = rf"^{_YEAR}-W(?:0[1-9]|[1-4]\d|5[0-3])$"
MONTH_PATTERN = rf"^{_YEAR}-(?:0[1-9]|1[0-2])$"
_DATE = {"format": "date"}  # RFC 3339 full-date: exactly what views.parse_day accepts

Page = views.Page
Limit = views.Limit


def iso(value: datetime | date | None) -> str | None:
    """A timestamp as the Hub writes it (2024-05-28T17:47:19.000Z), which huggingface_hub parses."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def user_json(name: str, fullname: str | None = None, avatar: str | None = None) -> dict[str, Any]:
    """A Hub user object for a submitter (full name and avatar when the import carried them)."""
    return {
        "_id": name,
        "user": name,
        "name": name,
        "fullname": fullname or name,
        "avatarUrl": avatar or "",
        "type": "user",
    }


def organization_json(org: Organization) -> dict[str, Any]:
    """The Hub's organization object; avatarUrl repeats avatar, which is what the client reads."""
    return {
        "_id": org.id,
        "name": org.name,
        "fullname": org.fullname,
        "avatar": org.avatar,
        "avatarUrl": org.avatar,
    }


def _links(paper: Paper) -> dict[str, Any]:
    """The optional Hub fields a paper carries, both in the paper object and at item level."""
    optional = {
        "projectPage": paper.project_page,
        "githubRepo": paper.github_repo,
        "githubStars": paper.github_stars,
        "ai_summary": paper.ai_summary,
        "ai_keywords": paper.ai_keywords or None,
        "organization": organization_json(paper.organization) if paper.organization else None,
        "mediaUrls": paper.media_urls or None,
    }
    return {k: v for k, v in optional.items() if v is not None}


def paper_json(
    paper: Paper,
    *,
    days: list[date] | None = None,
    entry: FeedEntry | FeedItem | None = None,
) -> dict[str, Any]:
    """A paper as the Hub's /api/papers/{id} answers it, plus paperfeed's arXiv fields."""
    out: dict[str, Any] = {
        "id": paper.id,
        "authors": [
            {"_id": f"{paper.id}:{i}", "name": name, "hidden": False}
            for i, name in enumerate(paper.authors)
        ],
        "publishedAt": iso(paper.published),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes,
        "numComments": paper.num_comments,
    }
    if paper.discussion_id:
        out["discussionId"] = paper.discussion_id
    if entry is not None:
        out["submittedOnDailyAt"] = iso(entry.submitted_at or entry.day)
        if entry.submitted_by:
            out["submittedOnDailyBy"] = _submitter(entry)
    out.update(_links(paper))
    # paperfeed's own arXiv metadata; the Hub client keeps unknown keys as attributes.
    out["arxiv"] = {
        "version": paper.version,
        "categories": paper.categories,
        "primaryCategory": paper.primary_category,
        "updatedAt": iso(paper.updated),
        "comments": paper.comments,
        "journalRef": paper.journal_ref,
        "doi": paper.doi,
        "license": paper.license,
        "absUrl": paper.abs_url,
        "pdfUrl": paper.pdf_url,
    }
    if days is not None:
        out["arxiv"]["featuredOn"] = [d.isoformat() for d in days]
    if paper.source != "arxiv":
        # bio: a DOI paper says which server it is from (docs/biorxiv.md, "The JSON API").
        out["source"] = paper.source
    return out


def _submitter(entry: FeedEntry | FeedItem) -> dict[str, Any]:
    assert entry.submitted_by is not None
    return user_json(entry.submitted_by, entry.submitter_fullname, entry.submitter_avatar)


def item_json(
    paper: Paper, entry: FeedEntry | FeedItem | None, *, author_here: bool = False
) -> dict[str, Any]:
    """One daily/search item: {paper: {...}, publishedAt, title, summary, ...} like the Hub.

    `author_here`: a confirmed author commented here (a FeedItem's flag already says so).
    """
    p = paper_json(paper, entry=entry)
    if entry is not None:
        p["arxiv"]["featuredOn"] = [entry.day.isoformat()]
        # The item's publishedAt is when the Hub listed it: huggingface_hub's submitted_at.
        listed: datetime | date | None = entry.listed_at or entry.submitted_at or entry.day
    else:
        listed = paper.published
    out: dict[str, Any] = {
        "paper": p,
        "publishedAt": iso(listed),
        "title": paper.title,
        "summary": paper.abstract,
        "numComments": paper.num_comments,
        "isAuthorParticipating": bool(entry and entry.author_participating) or author_here,
    }
    if paper.thumbnail:
        out["thumbnail"] = paper.thumbnail
    if entry is not None and entry.submitted_by:
        out["submittedBy"] = _submitter(entry)
    # The Hub nests these under "paper", where huggingface_hub's PaperInfo never looks;
    # repeating them at the top level lets the client see links, stars and organizations too.
    out.update(_links(paper))
    return out


def daily_item_json(item: FeedItem) -> dict[str, Any]:
    """One /api/daily_papers item."""
    return item_json(item.paper, item)


def _first(entries: list[FeedEntry] | None) -> FeedEntry | None:
    return entries[0] if entries else None


def _next_link(request: Request, **params: Any) -> str:
    """A Link header naming the next page: the request's URL with some parameters replaced."""
    query = {k: v for k, v in request.query_params.items() if k not in params}
    query.update({k: str(v) for k, v in params.items()})
    url = request.url.replace(query=urlencode(query))
    return f'<{url}>; rel="next"'


def _paged(
    request: Request, body: Any, *, total: int, page: int, size: int, **extra: str
) -> JSONResponse:
    """A page of a list with X-Total-Count and, when more follow, a Link rel="next"."""
    headers = {"X-Total-Count": str(total), **extra}
    if (page + 1) * size < total:
        headers["Link"] = _next_link(request, p=page + 1)
    return JSONResponse(body, headers=headers)


paged_json = _paged  # the same paging headers for the API modules outside this one (authors)


def daily_papers(
    request: Request,
    date: Annotated[
        str | None,
        Query(description="A day, YYYY-MM-DD (wins over week and month)", json_schema_extra=_DATE),
    ] = None,
    week: Annotated[
        str | None,
        Query(description="An ISO week, e.g. 2025-W09 (wins over month)", pattern=WEEK_PATTERN),
    ] = None,
    month: Annotated[
        str | None, Query(description="A month, YYYY-MM", pattern=MONTH_PATTERN)
    ] = None,
    p: Page = 0,
    limit: Limit = API_DEFAULT_LIMIT,
    submitter: Annotated[
        str | None,
        Query(max_length=255, description="Only papers submitted by this user name"),
    ] = None,
    sort: Annotated[
        Literal["publishedAt", "trending"] | None,
        Query(description="publishedAt: newest first; trending: by trending score"),
    ] = None,
    source: source_pages.SourceParam = None,
    cat: source_pages.CategoryParam = None,
) -> JSONResponse:
    """The papers of a day, ISO week or month, most upvoted first.

    Without a period this is the latest day; with submitter or sort=trending it is all days.
    source= and cat= (paperfeed's extension) keep papers of some sources or categories.
    """
    db = db_of(request)
    only = source_pages.request_filter(request)
    if date is not None:
        period: views.Period | None = views.parse_day(date)
    elif week is not None:
        period = views.parse_week(week, roll_over=True)
    elif month is not None:
        period = views.parse_month(month)
    elif submitter or sort == "trending":
        period = None  # a submitter's papers, or what trends, across every day
    else:
        period = views.latest_period(db, only)
        if period is None:
            return JSONResponse([], headers={"X-Total-Count": "0"})
    if sort is not None:
        # community: newest first, or by the stored trending score (`paperfeed rank`).
        items, total = feeds.sorted_items(
            db, period, sort=sort, submitter=submitter or None, page=p, size=limit, only=only
        )
    elif period is None:
        items, total = views.newest_items(
            db, submitted_by=submitter, page=p, page_size=limit, only=only
        )
    else:
        view = views.feed_view(
            db, period, page=p, page_size=limit, submitted_by=submitter or None, only=only
        )
        items, total = view.items, view.total
    body = [daily_item_json(i) for i in items]
    return _paged(request, body, total=total, page=p, size=limit)


def _api_id(arxiv_id: str) -> str:
    """The canonical id of a path parameter; NotFound when it is no arXiv id."""
    try:
        return views.resolve_id(arxiv_id)
    except InvalidId as exc:
        raise NotFound(str(exc)) from None


def paper(
    request: Request,
    arxiv_id: Annotated[
        str,
        Path(
            description="An arXiv id, e.g. 2405.18407, or a bioRxiv/medRxiv DOI, e.g. "
            "10.1101/2021.09.30.462652 (paperfeed extension)"
        ),
    ],
) -> JSONResponse:
    """One paper by id (versions and arxiv.org URLs are accepted and resolved).

    bioRxiv/medRxiv papers (paperfeed extension) carry `source`, and `identities` when known
    by several ids; arXiv papers answer exactly as before.
    """
    view = views.paper_view(db_of(request), arxiv_id, redirect=False)
    out = paper_json(view.paper, days=view.days, entry=view.entry)
    # authors: the Hub's flag, or a confirmed author of the paper commenting on it here.
    hub = bool(view.entry and view.entry.author_participating)
    out["isAuthorParticipating"] = hub or claim_service.author_participating(
        db_of(request), view.paper.id
    )
    out.update(extras_json(view))
    if len(view.identities) > 1:
        # bio: every identity (arXiv id, preprint DOI, journal DOI) when there is more than one.
        out["identities"] = [{"kind": k, "value": v} for k, v in view.identities]
    return JSONResponse(out)


_LINKED = {"model": "Models", "dataset": "Datasets", "space": "Spaces"}


def extras_json(view: views.PaperView) -> dict[str, Any]:
    """What only the one-paper answer carries: citing repos (as the Hub's paper_info) and whose summary it is."""
    out: dict[str, Any] = {}
    if view.hub.fetched_at is not None:
        for kind, name in _LINKED.items():
            repos = view.hub.of(kind)
            out[f"linked{name}"] = repos.repos
            # numTotalSpaces is paperfeed's: the Hub's paper_info gives models' and datasets'.
            out[f"numTotal{name}"] = repos.total
    if view.paper.ai_summary:
        out["aiSummaryBy"] = "huggingface"
    elif view.summary is not None:
        out["ai_summary"] = view.summary.summary
        out["aiSummaryBy"] = "paperfeed"
        out["aiSummaryModel"] = view.summary.model
    return out


def arxiv_repos(
    request: Request, arxiv_id: Annotated[str, Path(description="An arXiv id, e.g. 2405.18407")]
) -> JSONResponse:
    """Models, datasets and Spaces citing a paper, in the Hub's shape (the most liked, as last fetched)."""
    view = views.paper_view(db_of(request), arxiv_id, redirect=False)
    return JSONResponse({f"{kind}s": view.hub.of(kind).repos for kind in _LINKED})


# --- /api/papers: every paper by publication date, cursor-paged ---


def _cursor(paper: Paper) -> str:
    assert paper.published is not None
    raw = f"{paper.published.isoformat()}|{paper.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_cursor(text: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        when, _, pid = raw.partition("|")
        if not pid:
            raise ValueError
        return datetime.fromisoformat(when), pid
    except ValueError:
        # 404: the cursor is well formed but names no page (cursors come from Link headers).
        raise NotFound(
            "no page at this cursor: pass the cursor from the previous page's Link header"
        ) from None


def papers_list(
    request: Request,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]*$",
            description="Where the previous page ended (from its Link header)",
        ),
    ] = None,
    limit: Limit = API_DEFAULT_LIMIT,
    source: source_pages.SourceParam = None,
    cat: source_pages.CategoryParam = None,
) -> JSONResponse:
    """All papers, newest publication first; the Link header names the next page's cursor."""
    after = _parse_cursor(cursor) if cursor else None
    only = source_pages.request_filter(request)
    with db_of(request).read() as conn:
        papers = paper_store.newest_published(conn, after=after, limit=limit + 1, only=only)
        entries = feed_store.entries_for_many(conn, [p.id for p in papers[:limit]])
    body = [paper_json(p, entry=_first(entries.get(p.id))) for p in papers[:limit]]
    headers = {}
    if len(papers) > limit:
        headers["Link"] = _next_link(request, cursor=_cursor(papers[limit - 1]))
    return JSONResponse(body, headers=headers)


# --- /api/papers/search ---


def highlight_parts(marked: str | None) -> list[dict[str, str]] | None:
    """Safe HTML with <mark> around matches as the Hub's [{type: text|highlight, text}] list."""
    if not marked:
        return None
    parts: list[dict[str, str]] = []
    for i, chunk in enumerate(re.split(r"</?mark>", marked)):
        if chunk:
            kind = "highlight" if i % 2 else "text"
            parts.append({"type": kind, "text": html.unescape(chunk)})
    return parts or None


def search_item_json(
    paper: Paper,
    score: float,
    entry: FeedEntry | None = None,
    *,
    title: str | None = None,
    snippet: str | None = None,
    author_here: bool = False,
) -> dict[str, Any]:
    """One /api/papers/search item: a daily item plus highlighted title and summary parts."""
    out = item_json(paper, entry, author_here=author_here)
    out["score"] = round(score, 6)
    for key, marked in (("highlightedTitle", title), ("highlightedSummary", snippet)):
        parts = highlight_parts(marked)
        if parts:
            out[key] = parts
    return out


def search_items(
    request: Request, hits: list[tuple[Paper, float]], result: Any = None
) -> list[dict[str, Any]]:
    """Search items for papers and scores, with each paper's first feed entry."""
    ids = [p.id for p, _ in hits]
    with db_of(request).read() as conn:
        entries = feed_store.entries_for_many(conn, ids)
        authors_here = claim_store.participating_among(conn, ids)
    titles = result.titles if result is not None else {}
    snippets = result.snippets if result is not None else {}
    return [
        search_item_json(
            p,
            score,
            _first(entries.get(p.id)),
            title=titles.get(p.id),
            snippet=snippets.get(p.id),
            author_here=p.id in authors_here,
        )
        for p, score in hits
    ]


def search_api(
    request: Request,
    q: Annotated[
        str,
        Query(
            max_length=SEARCH_MAX_QUERY,
            description="Words to search; cat:, author:, year:, from:, to: filter, and any "
            "token that is not a valid filter is searched as words",
        ),
    ] = "",
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Results per page")
    ] = SEARCH_DEFAULT_LIMIT,
    p: Page = 0,
    mode: Annotated[
        Literal["hybrid", "lexical", "semantic"], Query(description="How to match")
    ] = "hybrid",
    sort: Annotated[
        Literal["relevance", "date", "upvotes"], Query(description="Result order")
    ] = "relevance",
) -> JSONResponse:
    """Papers matching q, best first, in the Hub's /api/papers/search shape."""
    try:
        result = search(
            db_of(request),
            settings_of(request),
            q,
            mode=mode,
            sort=sort,
            limit=limit,
            offset=p * limit,
            lenient=True,
        )
    except QueryError as exc:
        raise views.BadRequest(str(exc)) from None
    except SearchUnavailable as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)
    hits = [(paper, h.score) for h, paper in zip(result.hits, result.papers, strict=True)]
    body = search_items(request, hits, result)
    return _paged(
        request, body, total=result.total, page=p, size=limit, **{"X-Search-Mode": result.mode}
    )


def api_trending(request: Request, p: views.Page = 0, limit: views.Limit = 50) -> JSONResponse:
    """Trending papers in the daily_papers item shape, each with a `trending` explanation."""
    page, size = p, limit
    rows, total = feeds.trending_rows(db_of(request), page=page, size=size)
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

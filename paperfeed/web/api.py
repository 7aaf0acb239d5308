"""JSON API handlers in the Hugging Face Papers API shape, thin twins of the pages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from paperfeed.models import FeedItem, Paper
from paperfeed.web import views
from paperfeed.web.context import db_of

API_DEFAULT_LIMIT = 50  # huggingface_hub documents 50 as the daily_papers default


def iso(value: datetime | date | None) -> str | None:
    """A timestamp as the Hub writes it (2024-05-28T17:47:19.000Z), which huggingface_hub parses."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def user_json(name: str) -> dict[str, Any]:
    """A Hub user object for a submitter known here only by name."""
    return {
        "_id": name,
        "user": name,
        "name": name,
        "fullname": name,
        "avatarUrl": "",
        "type": "user",
    }


def paper_json(
    paper: Paper,
    *,
    days: list[date] | None = None,
    submitted_by: str | None = None,
    submitted_at: datetime | None = None,
    signals: dict[str, float] | None = None,
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
    if submitted_at or days:
        out["submittedOnDailyAt"] = iso(submitted_at or (days[0] if days else None))
    if submitted_by:
        out["submittedOnDailyBy"] = user_json(submitted_by)
    optional = {
        "projectPage": paper.project_page,
        "githubRepo": paper.github_repo,
        "ai_summary": paper.ai_summary,
        "ai_keywords": paper.ai_keywords or None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    stars = (signals or {}).get("github_stars")
    if stars is not None:
        out["githubStars"] = int(stars)
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
    return out


def daily_item_json(item: FeedItem) -> dict[str, Any]:
    """One /api/daily_papers item: {paper: {...}, publishedAt, title, summary, numComments, ...}."""
    submitted_at = item.submitted_at or datetime(item.day.year, item.day.month, item.day.day)
    paper = paper_json(item.paper, submitted_by=item.submitted_by, submitted_at=submitted_at)
    paper["arxiv"]["featuredOn"] = [item.day.isoformat()]
    out: dict[str, Any] = {
        "paper": paper,
        # The top-level publishedAt is when the paper was featured: huggingface_hub reads it
        # as PaperInfo.submitted_at.
        "publishedAt": iso(submitted_at),
        "title": item.paper.title,
        "summary": item.paper.abstract,
        "numComments": item.paper.num_comments,
        "isAuthorParticipating": False,
    }
    if item.submitted_by:
        out["submittedBy"] = user_json(item.submitted_by)
    # The Hub nests these under "paper" only, where huggingface_hub's PaperInfo never looks;
    # repeating them at the top level lets the client see links and AI summaries too.
    for key in ("projectPage", "githubRepo", "githubStars", "ai_summary", "ai_keywords"):
        if key in paper:
            out[key] = paper[key]
    return out


def daily_papers(
    request: Request,
    date: str | None = None,
    week: str | None = None,
    month: str | None = None,
    p: str | None = None,
    limit: str | None = None,
    submitter: str | None = None,
    sort: str | None = None,
) -> JSONResponse:
    """The papers of a day, ISO week or month (default: the latest day), most upvoted first."""
    db = db_of(request)
    chosen = [x for x in (date, week, month) if x is not None]
    if len(chosen) > 1:
        raise views.BadRequest("give at most one of date, week and month")
    if sort not in (None, "publishedAt", "trending"):
        raise views.BadRequest(
            f"unknown sort {str(sort)[:40]!r} (expected publishedAt or trending)"
        )
    page = views.parse_page(p, first=0)
    size = views.parse_limit(limit, API_DEFAULT_LIMIT)
    if date is not None:
        period: views.Period | None = views.parse_day(date)
    elif week is not None:
        period = views.parse_week(week)
    elif month is not None:
        period = views.parse_month(month)
    else:
        period = views.latest_period(db)
    if period is None:
        return JSONResponse([])
    if sort in ("publishedAt", "trending"):
        # community: newest first, or by the stored trending score (`paperfeed rank`).
        from paperfeed.web.feeds import sorted_items

        items, total = sorted_items(
            db, period, sort=sort, submitter=submitter or None, page=page, size=size
        )
        headers = {"X-Total-Count": str(total)}
        return JSONResponse([daily_item_json(i) for i in items], headers=headers)
    view = views.feed_view(db, period, page=page, page_size=size, submitted_by=submitter or None)
    headers = {"X-Total-Count": str(view.total)}
    return JSONResponse([daily_item_json(i) for i in view.items], headers=headers)


def paper(request: Request, arxiv_id: str) -> JSONResponse:
    """One paper by id (versions and arxiv.org URLs are accepted and resolved)."""
    view = views.paper_view(db_of(request), arxiv_id, redirect=False)
    return JSONResponse(
        paper_json(
            view.paper,
            days=view.days,
            submitted_by=view.submitted_by,
            submitted_at=view.submitted_at,
            signals=view.signals,
        )
    )

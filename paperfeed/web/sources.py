"""Feeds by source and category: the source=/cat= parameters, and the category pages."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import JSONResponse
from pydantic import StringConstraints
from starlette.responses import Response

from paperfeed.models import FeedFilter
from paperfeed.service import sources as source_service
from paperfeed.web.context import db_of, path_for, render, settings_of, templates

CATEGORY_PATTERN = r"^[A-Za-z][A-Za-z0-9\-]*(\.[A-Za-z0-9\-]+)?$"

# The JSON API documents one value per parameter (repeat it); pages also take comma lists.
SourceParam = Annotated[
    list[Literal["arxiv", "biorxiv", "medrxiv"]] | None,
    Query(
        max_length=source_service.MAX_VALUES,
        description="paperfeed extension: only papers of these sources (repeat the parameter)",
    ),
]
CategoryParam = Annotated[
    list[Annotated[str, StringConstraints(pattern=CATEGORY_PATTERN, max_length=80)]] | None,
    Query(
        max_length=source_service.MAX_VALUES,
        description="paperfeed extension: only papers in these categories, e.g. cs.CL, "
        "biorxiv.genomics, or a whole server or archive (medrxiv, cs)",
    ),
]


def request_filter(request: Request) -> FeedFilter:
    """The request's source= and cat= parameters within what this instance shows (400 if bad)."""
    q = request.query_params
    return source_service.request_filter(
        settings_of(request), q.getlist("source"), q.getlist("cat")
    )


def filter_query(request: Request, *, first: bool = True) -> str:
    """The request's own source= and cat= parameters, to keep them on prev/next and feed links."""
    q = request.query_params
    pairs = [(k, v) for k in ("source", "cat") for v in q.getlist(k) if v]
    if not pairs:
        return ""
    return ("?" if first else "&") + urlencode(pairs)


def with_filter(request: Request, url: str | None) -> str | None:
    """A URL with the request's filter parameters appended."""
    if url is None:
        return None
    return url + filter_query(request, first="?" not in url)


def _browse_json(request: Request) -> list[dict[str, Any]]:
    out = []
    for group in source_service.browse(db_of(request), settings_of(request)):
        out.append(
            {
                "source": group.source,
                "name": group.name,
                "total": group.total,
                "categories": [
                    {
                        "category": c.category,
                        "label": c.label,
                        "count": c.count,
                        "feedUrl": path_for(request, "home") + "?" + urlencode({"cat": c.category}),
                    }
                    for c in group.categories
                ],
            }
        )
    return out


def categories_page(request: Request) -> Response:
    """Every source's categories with their paper counts, each linking to its feed and search."""
    groups = source_service.browse(db_of(request), settings_of(request))
    return render(request, "categories.html", {"groups": groups})


def categories_api(request: Request) -> JSONResponse:
    """The categories page as JSON: per source, every category with its paper count."""
    return JSONResponse(_browse_json(request))


def install() -> None:
    """Add the category_label template global (called once when routes are registered)."""
    templates.env.globals["category_label"] = source_service.category_label

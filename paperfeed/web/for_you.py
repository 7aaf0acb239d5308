"""The for-you list: recommendation pages, "more like this", their JSON, Atom feeds and BibTeX."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from paperfeed.errors import InvalidInput
from paperfeed.models import User
from paperfeed.recommend import service
from paperfeed.store import library as store_library
from paperfeed.web import auth, feeds
from paperfeed.web.context import db_of, path_for, render, settings_of
from paperfeed.web.feeds import FeedLinks, _bib_response, bibtex
from paperfeed.web.library import (
    collection_or_404,
    feed_member,
    paper_json,
    private_feed_url,
    signed_in,
)

PAGE_SIZE = 20


# --- pages and JSON ----------------------------------------------------------------------------


def _for_you(request: Request, user: User, collection: str | None, *, similar: bool) -> Any:
    col = collection_or_404(request, user, collection) if collection else None
    try:
        page = max(0, int(request.query_params.get("p", "0") or 0))
    except ValueError:
        raise InvalidInput("p must be a page number (0, 1, 2…)") from None
    page = min(page, 50)
    return (
        col,
        service.for_you(
            db_of(request),
            settings_of(request),
            user.id,
            collection_id=col.id if col else None,
            limit=PAGE_SIZE,
            offset=page * PAGE_SIZE,
            keep_seen=similar,
        ),
        page,
    )


def _for_you_json(res: service.ForYou, page: int) -> dict[str, Any]:
    return {
        "collection": res.collection,
        "method": res.method,
        "positives": res.positives,
        "computed_at": res.computed_at.isoformat() if res.computed_at else None,
        "page": page,
        "items": [
            {
                "paper": paper_json(r.paper),
                "score": round(r.score, 4),
                "reason": r.reason,
                "because": [p.id for p in r.because],
                "collection": r.collection,
            }
            for r in res.items
        ],
    }


def for_you_page(request: Request) -> Response:
    """Papers picked for the signed-in member (overall, or ?collection=NAME)."""
    user = signed_in(request)
    if user is None:
        return auth.login_redirect(request)
    col, res, page = _for_you(
        request, user, request.query_params.get("collection") or None, similar=False
    )
    if res.items:
        service.mark_shown(db_of(request), user.id, [r.paper.id for r in res.items])
    with db_of(request).read() as conn:
        cols = store_library.list_collections(conn, user.id)
    return render(
        request,
        "for_you.html",
        {
            "res": res,
            "collection": col,
            "collections": cols,
            "page": page,
            "page_size": PAGE_SIZE,
            "active": "for_you",
            "similar": False,
            "feeds": for_you_links(request, user, col),
        },
        cards=[r.paper.id for r in res.items],
    )


def for_you_api(request: Request) -> Response:
    """The for-you list as JSON (same parameters as the page)."""
    user = signed_in(request)
    if user is None:
        return JSONResponse({"error": "sign in first", "login": "/login"}, 401)
    _, res, page = _for_you(
        request, user, request.query_params.get("collection") or None, similar=False
    )
    return JSONResponse(_for_you_json(res, page))


def similar_page(request: Request, collection: str) -> Response:
    """More papers like the ones in a collection (seen ones included)."""
    user = signed_in(request)
    if user is None:
        return auth.login_redirect(request)
    col, res, page = _for_you(request, user, collection, similar=True)
    return render(
        request,
        "for_you.html",
        {
            "res": res,
            "collection": col,
            "collections": [],
            "page": page,
            "page_size": PAGE_SIZE,
            "active": "library",
            "similar": True,
            "feeds": for_you_links(request, user, col),
        },
        cards=[r.paper.id for r in res.items],
    )


def similar_api(request: Request, collection: str) -> Response:
    """More like a collection, as JSON."""
    user = signed_in(request)
    if user is None:
        return JSONResponse({"error": "sign in first", "login": "/login"}, 401)
    _, res, page = _for_you(request, user, collection, similar=True)
    return JSONResponse(_for_you_json(res, page))


FEED_ITEMS = 100  # for-you lists hold at most recommend_cache_size papers; a feed shows the top


def for_you_links(request: Request, user: User, col: store_library.Collection | None) -> FeedLinks:
    """The feeds of the for-you list, overall or for one collection (also "more like this")."""
    extra = {"collection": str(col.id)} if col else {}
    scope = f"for-you:{col.id if col else ''}"
    bib = path_for(request, "for_you_bibtex") + ("?" + urlencode(extra) if extra else "")
    return FeedLinks(
        f"For you: {col.name}" if col else "For you",
        private_feed_url(request, user, path_for(request, "for_you_atom"), scope, **extra),
        bib,
    )


def _feed_for_you(request: Request) -> tuple[User, store_library.Collection | None, Any]:
    wanted = request.query_params.get("collection") or None
    user = feed_member(request, f"for-you:{wanted or ''}")
    col = collection_or_404(request, user, wanted) if wanted else None
    # keep_seen: a reader's polls must not empty the list the member sees on the page.
    res = service.for_you(
        db_of(request),
        settings_of(request),
        user.id,
        collection_id=col.id if col else None,
        limit=FEED_ITEMS,
        keep_seen=True,
    )
    return user, col, res


def for_you_atom(request: Request) -> Response:
    """The for-you list (?collection=ID: more like one collection) as a private Atom feed."""
    _, col, res = _feed_for_you(request)
    html = path_for(request, "for_you") + (f"?collection={col.id}" if col else "")
    return feeds.atom_response(
        request,
        title=f"{settings_of(request).site_name} – For you" + (f": {col.name}" if col else ""),
        html_path=html,
        papers=[(r.paper, res.computed_at, f"Why recommended: {r.reason}") for r in res.items],
        private=True,
    )


def for_you_bibtex(request: Request) -> Response:
    """The for-you list as BibTeX."""
    _, col, res = _feed_for_you(request)
    return _bib_response(bibtex([r.paper for r in res.items]), "for-you")

"""Search page and its JSON twin (Hugging Face /api/papers/search shape), and similar papers."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from lxml import etree
from starlette.responses import Response

from paperfeed.errors import NotFound, PaperfeedError
from paperfeed.models import Paper
from paperfeed.search import MODES, QueryError, SearchUnavailable, search, similar, similar_papers
from paperfeed.search.lexical import SORTS
from paperfeed.search.service import MAX_LIMIT, SearchResult
from paperfeed.web import feeds, views
from paperfeed.web.api import search_items
from paperfeed.web.context import db_of, path_for, render, settings_of, templates

log = logging.getLogger(__name__)

PAGE_SIZE = 20
API_DEFAULT_LIMIT = 20
MAX_PARAM_CHARS = 2000  # the parser cuts the query here too; other fields are short


def _param(request: Request, name: str) -> str:
    return (request.query_params.get(name) or "")[:MAX_PARAM_CHARS]


def _choice(value: str, choices: tuple[str, ...], default: str, what: str) -> str:
    if not value:
        return default
    if value not in choices:
        raise views.BadRequest(f"unknown {what} {value[:40]!r}: use one of {', '.join(choices)}")
    return value


def _run(request: Request, *, limit: int, offset: int) -> SearchResult:
    """Run a search from the request's parameters (shared by the page and the API)."""
    cat = _param(request, "cat")
    author = _param(request, "author")
    return search(
        db_of(request),
        settings_of(request),
        _param(request, "q"),
        mode=_choice(_param(request, "mode"), MODES, "hybrid", "mode"),
        sort=_choice(_param(request, "sort"), SORTS, "relevance", "sort"),
        limit=limit,
        offset=offset,
        categories=cat.split(",") if cat else None,
        authors=[author] if author else None,
        date_from=_param(request, "from") or None,
        date_to=_param(request, "to") or None,
    )


def search_page(request: Request) -> Response:
    """Search results as paper cards with highlighted snippets, filters and paging."""
    page = views.parse_page(request.query_params.get("p"), first=1)
    text = _param(request, "q")
    form = {k: _param(request, k) for k in ("q", "mode", "cat", "author", "from", "to", "sort")}
    context: dict[str, Any] = {"query": text, "form": form, "result": None, "error": None}
    status = 200
    try:
        result = _run(request, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    except (QueryError, views.BadRequest) as exc:
        context["error"], status = str(exc), 400
    except SearchUnavailable as exc:
        context["error"], status = str(exc), 503
    else:
        if result.redirect_id:
            return RedirectResponse(
                path_for(request, "paper", arxiv_id=result.redirect_id), status_code=302
            )
        context["result"] = result
        pages = (result.total + PAGE_SIZE - 1) // PAGE_SIZE
        base = {k: v for k, v in form.items() if v}

        def url(n: int) -> str:
            return path_for(request, "search") + "?" + urlencode({**base, "p": n + 1})

        context["page"] = page
        context["pages"] = pages
        context["prev_url"] = url(page - 1) if page > 0 else None
        context["next_url"] = url(page + 1) if page + 1 < pages else None
        if not result.query.is_empty:
            context["feeds"] = search_links(request, base)
    listed = context["result"].papers if context["result"] else ()
    return render(request, "search.html", context, status_code=status, cards=[p.id for p in listed])


def similar_api(request: Request, arxiv_id: str, limit: views.Limit = 10) -> JSONResponse:
    """Papers similar in meaning to one paper, best first."""
    db, settings = db_of(request), settings_of(request)
    view = views.paper_view(db, arxiv_id, redirect=False)
    hits = similar(db, settings, view.paper.id, limit)
    papers = similar_papers_by_hits(request, [h.paper_id for h in hits])
    scores = {h.paper_id: h.score for h in hits}
    return JSONResponse(search_items(request, [(p, scores[p.id]) for p in papers]))


def similar_papers_by_hits(request: Request, ids: list[str]) -> list[Paper]:
    """Visible papers for ids, in order."""
    from paperfeed.store.papers import get_papers

    with db_of(request).read() as conn:
        found = get_papers(conn, ids)
    return [found[i] for i in ids if i in found]


def similar_to(request: Request, paper_id: str, k: int = 6) -> list[Paper]:
    """Similar papers for a paper page; empty (never an error page) when search is not ready."""
    try:
        return similar_papers(db_of(request), settings_of(request), paper_id, k)
    except (SearchUnavailable, NotFound):
        return []
    except PaperfeedError:
        log.exception("similar papers failed for %s", paper_id)
        return []


# --- feeds: the search as Atom and BibTeX ---------------------------------------------------------


def search_links(request: Request, params: dict[str, str]) -> feeds.FeedLinks:
    """The feeds of a search page (its filters kept, its page number dropped)."""
    query = "?" + urlencode({k: v for k, v in params.items() if k != "p"})
    return feeds.FeedLinks(
        f"Search: {params.get('q', '')[:80]}",
        path_for(request, "search_atom") + query,
        path_for(request, "search_bibtex") + query,
    )


def _feed_search(request: Request) -> tuple[SearchResult, feeds.Paging]:
    size = min(feeds.FEED_ITEMS, MAX_LIMIT)  # the search service caps one page at 120
    page = feeds.feed_page(request)
    try:
        result = _run(request, limit=size, offset=page * size)
    except QueryError as exc:
        raise views.BadRequest(str(exc)) from None
    except SearchUnavailable as exc:  # e.g. the index is not built yet: retry later
        raise HTTPException(503, str(exc)) from None
    if result.query.is_empty:
        raise views.BadRequest("give a search query: /search.atom?q=words")
    return result, feeds.Paging(page, size, result.total)


def search_atom(request: Request) -> Response:
    """An Atom feed of a search (the parameters of /search), best first."""
    result, paging = _feed_search(request)
    site = settings_of(request).site_name
    return feeds.atom_response(
        request,
        title=f"{site} – search: {_param(request, 'q')[:200]}",
        html_path=feeds.page_url(path_for(request, "search") + "?" + request.url.query, 0),
        papers=[(p, None, None) for p in result.papers],
        paging=paging,
    )


def search_bibtex(request: Request) -> Response:
    """A search's results (one feed page of them) as BibTeX."""
    result, _ = _feed_search(request)
    return feeds._bib_response(feeds.bibtex(result.papers), "search")


# The paper page template calls this to show its "Similar papers" section.
templates.env.globals["similar_to"] = similar_to


OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
OPENSEARCH_TYPE = "application/opensearchdescription+xml; charset=utf-8"


def opensearch(request: Request) -> Response:
    """The OpenSearch 1.1 description that lets a browser add this site's search to its bar."""
    settings = settings_of(request)
    base = settings.base_url.rstrip("/")
    doc = etree.Element(f"{{{OPENSEARCH_NS}}}OpenSearchDescription", nsmap={None: OPENSEARCH_NS})

    def sub(tag: str, text: str | None = None, **attrs: str) -> None:
        el = etree.SubElement(doc, f"{{{OPENSEARCH_NS}}}{tag}", attrs)
        el.text = text

    # The spec caps ShortName at 16 characters and Description at 1,024.
    sub("ShortName", feeds.xml_safe(settings.site_name)[:16] or "paperfeed")
    sub("Description", feeds.xml_safe(f"Search the papers of {settings.site_name}")[:1024])
    sub("InputEncoding", "UTF-8")
    icon = base + path_for(request, "static", path="/favicon.svg")
    sub("Image", icon, type="image/svg+xml", width="64", height="64")
    search_url = base + path_for(request, "search") + "?q={searchTerms}"
    sub("Url", type="text/html", method="get", template=search_url)
    atom_url = base + path_for(request, "search_atom") + "?q={searchTerms}"
    sub("Url", type="application/atom+xml", method="get", template=atom_url)
    sub(
        "Url",
        type="application/opensearchdescription+xml",
        rel="self",
        template=base + path_for(request, "opensearch"),
    )
    body = etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
    return Response(
        body, media_type=OPENSEARCH_TYPE, headers={"Cache-Control": "public, max-age=86400"}
    )

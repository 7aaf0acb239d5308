"""Author and organization pages with their JSON twins, and the author links every card uses."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from paperfeed.models import AuthorClaim
from paperfeed.normalize import author_slug
from paperfeed.service import authors as service
from paperfeed.service import claims as claim_service
from paperfeed.store import claims as claim_store
from paperfeed.web import api, feeds, views
from paperfeed.web.context import (
    cards_to_fetch,
    db_of,
    has_route,
    path_for,
    render,
    settings_of,
    templates,
)

PERSON = Query(max_length=200, description="Any paper id of one person with this name")


def author_path(request: Request, name: str) -> str | None:
    """The page of an author name, or None for a placeholder such as "et al."."""
    slug = author_slug(name)
    if not slug or not has_route(request, "author"):
        return None
    return path_for(request, "author", slug=slug)


def _person_path(request: Request, slug: str, key: str | None) -> str:
    base = path_for(request, "author", slug=slug)
    return base if key is None else f"{base}?{_query(person=key)}"


def _query(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v is not None})


def _paged_url(base: str, page: int, **params: Any) -> str:
    query = _query(**params, p=page + 1 if page else None)
    return f"{base}?{query}" if query else base


def _page(request: Request) -> int:
    return views.parse_page(request.query_params.get("p"), first=1)


def _redirect_if_not_canonical(request: Request, name: str, slug: str) -> Response | None:
    canonical = service.canonical_slug(slug)
    if canonical and canonical != slug:
        url = path_for(request, name, slug=canonical)
        if request.url.query:
            url += "?" + request.url.query
        return RedirectResponse(url, status_code=308)
    return None


def author_page(request: Request, slug: str) -> Response:
    """An author's papers here, newest first, with co-authors, categories and upvotes."""
    moved = _redirect_if_not_canonical(request, "author", slug)
    if moved is not None:
        return moved
    person = request.query_params.get("person") or None
    page = service.author_page(
        db_of(request),
        slug,
        person=person[:200] if person else None,
        page=_page(request),
        size=settings_of(request).author_page_size,
    )
    base = path_for(request, "author", slug=slug)
    key = page.person.key if page.person else None
    context = {
        "author": page,
        "people_urls": [_person_path(request, slug, p.key) for p in page.people],
        "all_url": base,
        "prev_page_url": _paged_url(base, page.page - 1, person=key) if page.page else None,
        "next_page_url": (
            _paged_url(base, page.page + 1, person=key) if page.page + 1 < page.pages else None
        ),
        "first_rank": page.page * settings_of(request).author_page_size + 1,
        "follow_kind": "author",
        "follow_target": slug,
        "follow_label": page.name,
        "feeds": feeds.FeedLinks(
            f"Papers by {page.name}", path_for(request, "author_atom", slug=slug)
        ),
    }
    return render(request, "author.html", context, cards=[p.id for p in page.papers])


def _pairs(request: Request, items: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    return [
        {"slug": s, "name": n, "papers": c, "url": path_for(request, "author", slug=s)}
        for s, n, c in items
    ]


def author_api(
    request: Request,
    slug: Annotated[str, Path(max_length=200, description="An author slug, e.g. jose-garcia")],
    person: Annotated[str | None, PERSON] = None,
    p: views.Page = 0,
    limit: views.Limit = 20,
) -> JSONResponse:
    """An author's papers here (newest first, paged), the people with this name, co-authors."""
    slug = service.canonical_slug(slug) or slug
    page = service.author_page(db_of(request), slug, person=person, page=p, size=limit)
    body = {
        "slug": page.slug,
        "name": page.name,
        "grouping": page.grouping,
        "person": page.person.key if page.person else None,
        "people": [
            {
                "person": x.key,
                "name": x.name,
                "papers": len(x.papers),
                "upvotes": x.upvotes,
                "categories": [c for c, _ in x.categories[:5]],
                "coauthors": _pairs(request, x.coauthors[:5]),
                "url": _person_path(request, slug, x.key),
            }
            for x in page.people
        ],
        "total": page.total,
        "upvotes": page.upvotes,
        "categories": [{"name": c, "papers": n} for c, n in page.categories],
        "coauthors": _pairs(request, page.coauthors),
        "papers": [api.paper_json(x) for x in page.papers],
    }
    return api.paged_json(request, body, total=page.total, page=p, size=limit)


def org_page(request: Request, org_name: str) -> Response:
    """An organization's papers here, newest first, with its frequent authors and categories."""
    page = service.org_page(
        db_of(request), org_name, page=_page(request), size=settings_of(request).author_page_size
    )
    base = path_for(request, "org", org_name=page.organization.name)
    context = {
        "org": page,
        "prev_page_url": _paged_url(base, page.page - 1) if page.page else None,
        "next_page_url": _paged_url(base, page.page + 1) if page.page + 1 < page.pages else None,
        "first_rank": page.page * settings_of(request).author_page_size + 1,
        "follow_kind": "org",
        "follow_target": page.organization.name,
        "follow_label": page.organization.fullname or page.organization.name,
        "feeds": feeds.FeedLinks(
            f"Papers from {page.organization.fullname or page.organization.name}",
            path_for(request, "org_atom", org_name=page.organization.name),
        ),
    }
    return render(request, "org.html", context, cards=[p.id for p in page.papers])


def org_api(
    request: Request,
    org_name: Annotated[str, Path(max_length=255, description="The Hub name, e.g. google")],
    p: views.Page = 0,
    limit: views.Limit = 20,
) -> JSONResponse:
    """An organization's papers here (newest first, paged), frequent authors and categories."""
    page = service.org_page(db_of(request), org_name, page=p, size=limit)
    body = {
        "organization": api.organization_json(page.organization),
        "total": page.total,
        "upvotes": page.upvotes,
        "categories": [{"name": c, "papers": n} for c, n in page.categories],
        "authors": _pairs(request, page.authors),
        "papers": [api.paper_json(x) for x in page.papers],
    }
    return api.paged_json(request, body, total=page.total, page=p, size=limit)


def author_atom(request: Request, slug: str) -> Response:
    """An Atom feed of an author's newest papers here (of one person with ?person=)."""
    person = request.query_params.get("person") or None
    size = settings_of(request).author_page_size
    page = service.author_page(
        db_of(request), service.canonical_slug(slug) or slug, person=person, size=size
    )
    return feeds.atom_response(
        request,
        title=f"{settings_of(request).site_name} – papers by {page.name}",
        html_path=_person_path(request, page.slug, page.person.key if page.person else None),
        papers=[(p, None, None) for p in page.papers],
    )


def org_atom(request: Request, org_name: str) -> Response:
    """An Atom feed of an organization's newest papers here."""
    size = settings_of(request).author_page_size
    page = service.org_page(db_of(request), org_name, size=size)
    name = page.organization.fullname or page.organization.name
    return feeds.atom_response(
        request,
        title=f"{settings_of(request).site_name} – papers from {name}",
        html_path=path_for(request, "org", org_name=page.organization.name),
        papers=[(p, None, None) for p in page.papers],
    )


# --- template globals: author links, claim badges -------------------------------------------


def _confirmed(request: Request, paper_id: str) -> list[AuthorClaim]:
    cache: dict[str, list[AuthorClaim]] = request.state.__dict__.setdefault("pf_claims", {})
    if paper_id not in cache:
        wanted = cards_to_fetch(request, cache, paper_id)
        with db_of(request).read() as conn:
            got = claim_store.confirmed_on(conn, wanted)
        cache.update((i, got.get(i, [])) for i in wanted)
    return cache[paper_id]


def _globals(request: Request) -> dict[str, Any]:
    return {
        "author_url": lambda name: author_path(request, name),
        # {position: claim} of a paper's confirmed authors, looked up once for all cards.
        "confirmed_authors": lambda pid: {c.position: c for c in _confirmed(request, pid)},
        "claims_on": lambda pid: claim_service.claims_on(db_of(request), pid),
    }


def install() -> None:
    """Add the author template globals (called once when routes are registered)."""
    if _globals not in templates.context_processors:
        templates.context_processors.append(_globals)

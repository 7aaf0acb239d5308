"""The MCP tools and resources: each a thin caller of the service layer, as the web pages are."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from pydantic import Field

from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError, PermissionDenied, Unauthorized
from paperfeed.mcpserver import results
from paperfeed.recommend import service as recommend
from paperfeed.search import QueryError, SearchUnavailable, search, similar
from paperfeed.service import follows as follow_service
from paperfeed.service import library, limits, papers, periods, submissions, tokens, votes
from paperfeed.store import Database
from paperfeed.store import papers as paper_store

T = TypeVar("T")

# Who is asking, from the SDK's request context: the bearer token's member over HTTP, the
# --token's member over stdio, None for an anonymous caller (public reads only).
PrincipalOf = Callable[[Context], tokens.Principal | None]

INSTRUCTIONS = (
    "paperfeed is a research-paper feed. Find papers with search_papers or list_daily_papers, "
    "read one with get_paper, then save_paper / upvote / hide_paper it for the member whose "
    "token you hold. Lists are compact and paged: pass next_page as page for more."
)
SEARCH_MODES = {"keyword": "lexical", "semantic": "semantic", "hybrid": "hybrid"}

PaperId = Annotated[
    str, Field(description="A paper id as the lists return it, e.g. 2405.18407", max_length=200)
]
PageArg = Annotated[int, Field(ge=0, le=10_000, description="Page number, from 0 (next_page)")]
LimitArg = Annotated[int, Field(ge=1, le=results.MAX_LIMIT, description="Papers per page")]


def _answer(fn: Callable[[], T]) -> T:
    """Run a service call; a domain error becomes a tool error the agent reads and can act on."""
    try:
        return fn()
    except (QueryError, SearchUnavailable, PaperfeedError) as exc:
        raise ToolError(str(exc)) from None


def build(db: Database, settings: Settings, principal_of: PrincipalOf) -> MCPServer:
    """An MCP server over a database, asking principal_of who each call acts for."""
    server: MCPServer = MCPServer(
        name=settings.site_name, instructions=INSTRUCTIONS, version=_version()
    )

    def member(ctx: Context) -> tokens.Principal:
        principal = principal_of(ctx)
        if principal is None:
            raise PermissionDenied(
                "this tool acts for a member: connect with a paperfeed API token "
                "(Authorization: Bearer pf_… or `paperfeed mcp --token`)"
            )
        return principal

    def writer(ctx: Context) -> tokens.Principal:
        principal = member(ctx)
        tokens.require_scope(principal, "write")
        # The same per-minute write budget as the browser and the JSON API, counted per token.
        limits.check_write(db, settings, principal.limit_key)
        return principal

    def listed(items: list[Any], total: int, page: int, limit: int, **extra: Any) -> dict[str, Any]:
        shown = [results.brief(settings, i) if not isinstance(i, dict) else i for i in items]
        return results.page(shown, total=total, page=page, limit=limit, **extra)

    # --- public reads ---------------------------------------------------------------------------

    @server.tool()
    def search_papers(
        query: Annotated[
            str,
            Field(
                max_length=250,
                description="Words to find; cat:cs.CL, author:Name, year:2024, from:/to: "
                "YYYY-MM-DD filter inside the query too",
            ),
        ],
        mode: Annotated[
            Literal["hybrid", "keyword", "semantic"],
            Field(description="keyword: exact words; semantic: by meaning; hybrid: both"),
        ] = "hybrid",
        category: Annotated[
            str | None, Field(description="arXiv categories, comma-separated, e.g. cs.CL,cs.LG")
        ] = None,
        author: Annotated[str | None, Field(description="Only papers by this author")] = None,
        date_from: Annotated[
            str | None, Field(description="Published on or after YYYY-MM-DD")
        ] = None,
        date_to: Annotated[
            str | None, Field(description="Published on or before YYYY-MM-DD")
        ] = None,
        sort: Annotated[
            Literal["relevance", "date", "upvotes"], Field(description="Result order")
        ] = "relevance",
        limit: LimitArg = 10,
        page: PageArg = 0,
    ) -> dict[str, Any]:
        """Search this feed's papers by words and/or meaning, best first, with optional filters."""
        res = _answer(
            lambda: search(
                db,
                settings,
                query,
                mode=SEARCH_MODES[mode],
                sort=sort,
                limit=limit,
                offset=page * limit,
                categories=category.split(",") if category else None,
                authors=[author] if author else None,
                date_from=date_from,
                date_to=date_to,
                lenient=True,
            )
        )
        return listed(res.papers, res.total, page, limit, mode=res.mode, notes=list(res.notes))

    def markdown(paper_id: str) -> str:
        return papers.paper_markdown(db, paper_id, arxiv_html_url=settings.arxiv_html_url)

    @server.tool()
    def get_paper(paper_id: PaperId) -> str:
        """One paper as Markdown: metadata, AI summary, abstract, then its full text by section
        with references where this instance holds it and its licence allows it."""
        return _answer(lambda: markdown(paper_id))

    @server.tool()
    def list_daily_papers(
        date: Annotated[
            str | None, Field(description="A day, YYYY-MM-DD (wins over week and month)")
        ] = None,
        week: Annotated[str | None, Field(description="An ISO week, e.g. 2025-W09")] = None,
        month: Annotated[str | None, Field(description="A month, YYYY-MM")] = None,
        limit: LimitArg = 20,
        page: PageArg = 0,
    ) -> dict[str, Any]:
        """The papers featured on a day, ISO week or month (default: the latest day), most upvoted first."""

        def run() -> dict[str, Any]:
            if date:
                period: periods.Period | None = periods.parse_day(date)
            elif week:
                period = periods.parse_week(week)
            elif month:
                period = periods.parse_month(month)
            else:
                period = papers.latest_period(db)
            if period is None:
                return listed([], 0, page, limit, period=None)
            view = papers.feed_view(db, period, page=page, page_size=limit)
            return listed(
                [i.paper for i in view.items],
                view.total,
                page,
                limit,
                period=period.key,
                previous_period=view.prev.key if view.prev else None,
                next_period=view.next.key if view.next else None,
            )

        return _answer(run)

    @server.tool()
    def list_trending(limit: LimitArg = 20, page: PageArg = 0) -> dict[str, Any]:
        """Papers by trending score (recent upvotes and GitHub stars gained), highest first."""
        rows, total = _answer(lambda: papers.trending(db, page=page, size=limit))
        items = [
            results.brief(settings, item.paper, votes_24h=s.votes_24h, score=round(s.score, 4))
            for item, s in rows
        ]
        return listed(items, total, page, limit)

    @server.tool()
    def similar_papers(
        paper_id: PaperId, limit: Annotated[int, Field(ge=1, le=results.MAX_LIMIT)] = 10
    ) -> dict[str, Any]:
        """Papers closest in meaning to one paper, best first."""

        def run() -> dict[str, Any]:
            pid = papers.paper_view(db, paper_id, redirect=False).paper.id
            hits = similar(db, settings, pid, limit)
            with db.read() as conn:
                found = paper_store.get_papers(conn, [h.paper_id for h in hits])
            shown = [
                results.brief(settings, found[h.paper_id], score=round(h.score, 4))
                for h in hits
                if h.paper_id in found
            ]
            return listed(shown, len(shown), 0, limit, similar_to=pid)

        return _answer(run)

    # --- the member's reads (a read token) ------------------------------------------------------

    @server.tool()
    def my_library(
        ctx: Context,
        collection: Annotated[
            str | None, Field(description="A collection's name or id; all saved papers if omitted")
        ] = None,
        limit: LimitArg = 20,
        page: PageArg = 0,
    ) -> dict[str, Any]:
        """The member's saved papers (newest saved first) and their collections with sizes."""

        def run() -> dict[str, Any]:
            user = member(ctx).user
            col = library.collection(db, user, collection) if collection else None
            saved = library.collection_papers(db, user, col.id if col else None)
            cols = [
                {"id": c.id, "name": c.name, "size": c.size}
                for c in library.contents(db, user).collections
            ]
            shown = saved[page * limit : (page + 1) * limit]
            return listed(shown, len(saved), page, limit, collections=cols)

        return _answer(run)

    @server.tool()
    def my_recommendations(
        ctx: Context,
        collection: Annotated[
            str | None, Field(description="Recommend for one collection (name or id)")
        ] = None,
        limit: LimitArg = 20,
        page: PageArg = 0,
    ) -> dict[str, Any]:
        """Papers picked for the member from their library and upvotes, with the reason for each."""

        def run() -> dict[str, Any]:
            user = member(ctx).user
            col = library.collection(db, user, collection) if collection else None
            res = recommend.for_you(
                db,
                settings,
                user.id,
                collection_id=col.id if col else None,
                limit=limit + 1,  # one more tells whether a next page exists
                offset=page * limit,
            )
            shown = [
                results.brief(settings, r.paper, reason=r.reason, score=round(r.score, 4))
                for r in res.items[:limit]
            ]
            total = page * limit + len(res.items)
            return listed(shown, total, page, limit, method=res.method)

        return _answer(run)

    # --- the member's changes (a write token) ---------------------------------------------------

    @server.tool()
    def save_paper(
        ctx: Context,
        paper_id: PaperId,
        collection: Annotated[
            str | None, Field(description="Save into this collection (created if new)")
        ] = None,
    ) -> dict[str, Any]:
        """Save a paper into the member's library (their default collection unless one is named)."""

        def run() -> dict[str, Any]:
            user = writer(ctx).user
            got = library.save(db, user, paper_id, [], collection or "")
            return {"id": got.paper_id, "saved": True, "collections": got.collections}

        return _answer(run)

    @server.tool()
    def hide_paper(
        ctx: Context,
        paper_id: PaperId,
        undo: Annotated[bool, Field(description="true lets the paper back in")] = False,
    ) -> dict[str, Any]:
        """Mark a paper "not interested": it stays out of the member's recommendations."""

        def run() -> dict[str, Any]:
            pid = library.hide(db, writer(ctx).user, paper_id, undo=undo)
            return {"id": pid, "hidden": not undo}

        return _answer(run)

    @server.tool()
    def upvote(
        ctx: Context,
        paper_id: PaperId,
        remove: Annotated[bool, Field(description="true takes the upvote back")] = False,
    ) -> dict[str, Any]:
        """Upvote a paper as the member (or take the upvote back); returns its upvote count."""

        def run() -> dict[str, Any]:
            got = votes.vote(db, writer(ctx).user, paper_id, "remove" if remove else "up")
            return {"id": got.paper_id, "upvotes": got.upvotes, "voted": got.voted}

        return _answer(run)

    @server.tool()
    def submit_paper(
        ctx: Context,
        paper: Annotated[
            str, Field(max_length=300, description="An arXiv id or arxiv.org/abs/ link")
        ],
    ) -> dict[str, Any]:
        """Submit a recent arXiv paper to today's feed, under the same rules as the site's form."""

        def run() -> dict[str, Any]:
            got = submissions.submit(db, settings, writer(ctx).user, paper)
            return results.brief(settings, got, submitted=True)

        return _answer(run)

    # --- follows (docs/follow.md) ---------------------------------------------------------------

    @server.tool()
    def follow(
        ctx: Context,
        kind: Annotated[
            Literal["author", "org", "category", "search", "collection", "paper_version"],
            Field(description="What to follow"),
        ],
        target: Annotated[
            str,
            Field(
                max_length=400,
                description="An author's name, an organization, a category (cs.CL), search "
                "text, one of the member's collections, or a paper id",
            ),
        ],
        mode: Annotated[
            Literal["keywords", "meaning"],
            Field(description="For a search: match its words, or papers like it"),
        ] = "keywords",
        unfollow: Annotated[bool, Field(description="true stops following it")] = False,
    ) -> dict[str, Any]:
        """Follow something for the member: its new papers reach their notifications and digest."""

        def run() -> dict[str, Any]:
            user = writer(ctx).user
            if unfollow:
                follow_service.unfollow_target(db, user, kind, target, mode)
                return {"kind": kind, "target": target, "following": False}
            got, created = follow_service.follow(db, settings, user, kind, target, mode)
            return {**follow_service.as_json(got), "following": True, "created": created}

        return _answer(run)

    @server.tool()
    def my_follows(ctx: Context) -> dict[str, Any]:
        """Everything the member follows (authors, orgs, categories, searches, ...)."""

        def run() -> dict[str, Any]:
            got = follow_service.list_for(db, member(ctx).user)
            return {"follows": [follow_service.as_json(f) for f in got], "total": len(got)}

        return _answer(run)

    # --- resources ------------------------------------------------------------------------------

    def resource(fn: Callable[[], str]) -> str:
        try:
            return fn()
        except PaperfeedError as exc:
            raise ResourceError(str(exc)) from None

    @server.resource(
        "paperfeed://papers/daily/latest",
        name="latest_daily_papers",
        description="The latest day's featured papers (first page), compact, as JSON",
        mime_type="application/json",
    )
    def daily_latest() -> str:
        return json.dumps(list_daily_papers(limit=results.MAX_LIMIT))

    @server.resource(
        "paperfeed://papers/trending",
        name="trending_papers",
        description="The trending papers (first page), compact, as JSON",
        mime_type="application/json",
    )
    def trending() -> str:
        return json.dumps(list_trending(limit=results.MAX_LIMIT))

    @server.resource(
        "paperfeed://papers/{+paper_id}.md",
        name="paper_markdown",
        description="One paper as Markdown (what get_paper returns)",
        mime_type="text/markdown",
    )
    def paper_md(paper_id: str) -> str:
        return resource(lambda: markdown(paper_id))

    return server


def stdio_principal(db: Database, secret: str | None) -> PrincipalOf:
    """Who a stdio server acts for: the token's member, checked again on every call (revocation)."""

    def principal_of(ctx: Context) -> tokens.Principal | None:
        if not secret:
            return None
        try:
            return tokens.authenticate(db, secret)
        except Unauthorized as exc:
            raise ToolError(str(exc)) from None

    return principal_of


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paperfeed")
    except PackageNotFoundError:
        return "0"

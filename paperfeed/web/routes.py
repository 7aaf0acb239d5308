"""The whole URL table of the web app, pages and JSON API side by side."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from paperfeed.web import (
    accounts,
    api,
    api_models,
    authors,
    claims,
    comments,
    community,
    crawlers,
    curation,
    digests,
    feeds,
    follows,
    for_you,  # the for-you list, split from library
    library,
    member_api,
    notifications,
    pages,
    search_pages,
    status,
    submissions,
    votes,
)
from paperfeed.web import chat as chat_pages  # chat push
from paperfeed.web import sources as source_pages  # bio: categories
from paperfeed.web.health import healthz
from paperfeed.web.metrics import metrics as metrics_page


@dataclass(frozen=True, slots=True)
class Route:
    """One URL: path, handler, route name (used by path_for in templates) and methods."""

    path: str
    endpoint: Callable[..., Any]
    name: str
    methods: tuple[str, ...] = ("GET",)
    api: bool = False  # JSON twin: listed in the OpenAPI schema
    status: int = 200  # the success status the OpenAPI schema documents (201 for creations)
    # A public page search engines may index (robots.txt); every other route is disallowed, so a
    # new member or API route stays out of search engines unless it says otherwise.
    crawl: bool = False


# Add new features here, each page next to its JSON twin. Order matters only against the
# catch-all paper routes, which live in CATCH_ALL and are registered after everything else.
ROUTES: list[Route] = [
    # Feed: latest day, day, ISO week, month.
    Route("/", pages.home, "home", crawl=True),
    Route("/papers/date", pages.day_pick, "papers_day_pick", crawl=True),
    Route("/papers/date/{day}", pages.day_page, "papers_day", crawl=True),
    Route("/papers/week", pages.latest_week, "papers_week_latest", crawl=True),
    Route("/papers/week/{week}", pages.week_page, "papers_week", crawl=True),
    Route("/papers/month", pages.latest_month, "papers_month_latest", crawl=True),
    Route("/papers/month/{month}", pages.month_page, "papers_month", crawl=True),
    Route("/api/daily_papers", api.daily_papers, "api_daily_papers", api=True),
    Route("/favicon.ico", pages.favicon, "favicon", crawl=True),
]

# --- search: keyword/meaning/hybrid search page, its Hub-shaped JSON twin, similar papers ---
ROUTES += [
    Route("/search", search_pages.search_page, "search"),
    Route("/api/papers/search", api.search_api, "api_papers_search", api=True),
    Route("/api/papers", api.papers_list, "api_papers_list", api=True),
    Route("/api/arxiv/{arxiv_id:path}/repos", api.arxiv_repos, "api_arxiv_repos", api=True),
    Route("/search.atom", search_pages.search_atom, "search_atom"),
    Route("/search.bib", search_pages.search_bibtex, "search_bibtex"),
    Route("/opensearch.xml", search_pages.opensearch, "opensearch"),  # the browser's search bar
    Route(
        "/api/papers/{arxiv_id:path}/similar",
        search_pages.similar_api,
        "api_papers_similar",
        api=True,
    ),
]

# --- community: accounts, submissions, votes, comments, trending, Atom feeds, BibTeX ---
ROUTES += [
    Route("/signup", accounts.signup_page, "signup_page"),
    Route("/signup", accounts.signup, "signup", ("POST",)),
    Route("/verify", accounts.verify_page, "verify_page"),
    Route("/verify", accounts.verify, "verify", ("POST",)),
    Route("/login", accounts.login_page, "login_page"),
    Route("/login", accounts.login, "login", ("POST",)),
    Route("/login/link", accounts.login_link, "login_link", ("POST",)),
    Route("/login/magic", accounts.magic_page, "login_magic_page"),
    Route("/login/magic", accounts.magic, "login_magic", ("POST",)),
    Route("/logout", accounts.logout, "logout", ("POST",)),
    Route("/settings", accounts.settings_page, "account_settings"),
    Route("/settings", accounts.settings_post, "account_settings_post", ("POST",)),
    Route("/submit", submissions.submit_page, "submit_page"),
    Route("/submit", submissions.submit, "submit", ("POST",)),
    Route("/vote", votes.vote, "vote", ("POST",)),
    Route("/comments", comments.comment_add, "comment_add", ("POST",)),
    Route("/comments/{comment_id:int}/edit", comments.comment_edit_page, "comment_edit_page"),
    Route("/comments/{comment_id:int}/edit", comments.comment_edit, "comment_edit", ("POST",)),
    Route(
        "/comments/{comment_id:int}/delete", comments.comment_delete, "comment_delete", ("POST",)
    ),
    Route("/curate", curation.curate, "curate", ("POST",)),
    Route("/papers/trending", feeds.trending_page, "trending", crawl=True),
    Route("/api/trending", api.api_trending, "api_trending", api=True),
    Route("/papers/feed.atom", feeds.daily_atom, "feed_atom", crawl=True),
    Route("/papers/trending.atom", feeds.trending_atom, "trending_atom", crawl=True),
    Route("/papers/feed.bib", feeds.feed_bibtex, "feed_bibtex"),
    Route("/papers/trending.bib", feeds.trending_bibtex, "trending_bibtex"),
    Route("/papers/{arxiv_id:path}.bib", feeds.paper_bibtex, "paper_bibtex"),
    Route("/api/papers/{arxiv_id:path}/comments", comments.api_comments, "api_comments", api=True),
]

# --- operations: health check for load balancers, Prometheus metrics ---
ROUTES += [
    Route("/healthz", healthz, "healthz"),
    Route("/metrics", metrics_page, "metrics"),
    Route("/admin/status", status.status_page, "admin_status"),
    Route("/api/admin/status", status.status_api, "api_admin_status", api=True),
]

# --- digests: subscribe (double opt-in), confirm, one-click unsubscribe, manage, view ---
ROUTES += [
    Route("/subscribe", digests.subscribe, "subscribe", ("POST",)),
    Route("/subscribe/confirm/{token}", digests.confirm_page, "subscribe_confirm_page"),
    Route("/subscribe/confirm/{token}", digests.confirm, "subscribe_confirm", ("POST",)),
    Route("/unsubscribe/{token}", digests.unsubscribe_page, "unsubscribe_page"),
    Route("/unsubscribe/{token}", digests.unsubscribe, "unsubscribe", ("POST",)),
    Route("/subscription/{token}", digests.manage_page, "subscription_manage_page"),
    Route("/subscription/{token}", digests.manage, "subscription_manage", ("POST",)),
    Route("/settings/digests", digests.member_page, "digest_settings"),
    Route("/settings/digests", digests.member_save, "digest_settings_post", ("POST",)),
    Route("/digests/{token}", digests.view_digest, "digest_view"),
]

# --- library & recommendations: save, not interested, collections, import/export, for you ---
ROUTES += [
    Route("/for-you", for_you.for_you_page, "for_you"),
    Route("/api/for-you", for_you.for_you_api, "api_for_you", api=True),
    Route("/for-you.atom", for_you.for_you_atom, "for_you_atom"),
    Route("/for-you.bib", for_you.for_you_bibtex, "for_you_bibtex"),
    Route("/library", library.library_page, "library"),
    Route("/api/library", library.library_api, "api_library", api=True),
    Route("/library/save", library.save, "library_save", ("POST",)),
    Route("/library/unsave", library.unsave, "library_unsave", ("POST",)),
    Route("/library/not-interested", library.not_interested, "library_not_interested", ("POST",)),
    Route("/library/import", library.import_library, "library_import", ("POST",)),
    Route("/library/{collection}/similar", for_you.similar_page, "library_similar"),
    Route(
        "/api/library/{collection}/similar",
        for_you.similar_api,
        "api_library_similar",
        api=True,
    ),
    Route("/library/{collection}/export.bib", library.collection_bibtex, "library_bibtex"),
    Route("/library/{collection}/feed.atom", library.collection_atom, "library_atom"),
    Route(
        "/library/{collection}/delete",
        library.collection_delete,
        "library_collection_delete",
        ("POST",),
    ),
    Route("/library/{collection}", library.collection_page, "library_collection"),
    Route(
        "/api/library/{collection}",
        library.collection_api,
        "api_library_collection",
        api=True,
    ),
]

# --- authors: author and organization pages, authorship claims, an author's paper links ---
ROUTES += [
    Route("/authors/{slug}/feed.atom", authors.author_atom, "author_atom", crawl=True),
    Route("/orgs/{org_name}/feed.atom", authors.org_atom, "org_atom", crawl=True),
    Route("/authors/{slug}", authors.author_page, "author", crawl=True),
    Route("/api/authors/{slug}", authors.author_api, "api_author", api=True),
    Route("/orgs/{org_name}", authors.org_page, "org", crawl=True),
    Route("/api/orgs/{org_name}", authors.org_api, "api_org", api=True),
    Route("/claims", claims.claims_page, "claims"),
    Route("/claims", claims.claim_post, "claim_post", ("POST",)),
    Route("/claims/new", claims.claim_page, "claim_new"),
    Route("/claims/links", claims.links_post, "claim_links", ("POST",)),
    Route("/claims/{claim_id:int}", claims.claim_action, "claim_action", ("POST",)),
]

# --- tokens and the write API: who am I, submit, upvote, comment, library (bearer or cookie+CSRF) ---
ROUTES += [
    Route("/api/me", member_api.me, "api_me", api=True),
    Route("/api/me/library", member_api.my_library, "api_me_library", api=True),
    Route("/api/papers/submit", member_api.submit, "api_submit", ("POST",), True, 201),
    Route("/api/papers/index", member_api.index, "api_index", ("POST",), True, 201),
    Route("/api/papers/{arxiv_id:path}/upvote", member_api.upvote, "api_upvote", ("POST",), True),
    Route(
        "/api/papers/{arxiv_id:path}/upvote",
        member_api.remove_upvote,
        "api_upvote_delete",
        ("DELETE",),
        True,
    ),
    Route(
        "/api/papers/{arxiv_id:path}/comments",
        member_api.comment_add,
        "api_comment_add",
        ("POST",),
        True,
        201,
    ),
    Route(
        "/api/comments/{comment_id:int}",
        member_api.comment_edit,
        "api_comment_edit",
        ("PATCH",),
        True,
    ),
    Route(
        "/api/comments/{comment_id:int}",
        member_api.comment_delete,
        "api_comment_delete",
        ("DELETE",),
        True,
    ),
    Route("/api/library/save", member_api.save, "api_library_save", ("POST",), True),
    Route("/api/library/unsave", member_api.unsave, "api_library_unsave", ("POST",), True),
    Route("/api/library/hide", member_api.hide, "api_library_hide", ("POST",), True),
    Route("/api/library/unhide", member_api.unhide, "api_library_unhide", ("POST",), True),
    Route(
        "/api/library/collections",
        member_api.collection_create,
        "api_collection_create",
        ("POST",),
        True,
        201,
    ),
    Route(
        "/api/library/collections/{collection}/papers",
        member_api.collection_add,
        "api_collection_add",
        ("POST",),
        True,
    ),
    Route(
        "/api/library/collections/{collection}/papers/{arxiv_id:path}",
        member_api.collection_remove,
        "api_collection_remove",
        ("DELETE",),
        True,
    ),
    Route(
        "/api/library/collections/{collection}",
        member_api.collection_delete,
        "api_collection_delete",
        ("DELETE",),
        True,
    ),
]

# Paper ids may contain a slash (hep-th/9901001), so these match any path: keep them last.

# --- follows: notifications of new papers for what members follow, replies and mentions ---
ROUTES += [
    Route("/notifications", notifications.notifications_page, "notifications"),
    Route("/notifications/read", notifications.notifications_read, "notifications_read", ("POST",)),
    Route("/follow", follows.follow, "follow", ("POST",)),
    Route("/settings/follows", follows.follows_page, "follows_settings"),
    Route("/settings/follows/feed", follows.rotate_feed, "follows_feed_rotate", ("POST",)),
    Route("/feeds/follows.atom", follows.follows_atom, "follows_atom"),
]

# --- follows in the JSON API (bearer or cookie+CSRF, as the other member routes; docs/follow.md) ---
ROUTES += [
    Route("/api/me/follows", member_api.my_follows, "api_me_follows", api=True),
    Route("/api/follows", member_api.follow_create, "api_follow_create", ("POST",), True, 201),
    Route(
        "/api/follows/{follow_id:int}",
        member_api.follow_delete,
        "api_follow_delete",
        ("DELETE",),
        True,
    ),
]

# --- bio: categories of every source with counts, and its JSON twin (docs/biorxiv.md) ---
ROUTES += [
    Route("/categories", source_pages.categories_page, "categories", crawl=True),
    Route("/api/categories", source_pages.categories_api, "api_categories", api=True),
]

CATCH_ALL: list[Route] = [
    Route("/api/papers/{arxiv_id:path}", api.paper, "api_paper", api=True),
    Route("/papers/{arxiv_id:path}", pages.paper_page, "paper", crawl=True),
]

# --- crawlers: robots.txt from this table's crawl flags, the sitemap of days and papers ---
ROUTES += [
    Route("/robots.txt", crawlers.robots_txt, "robots_txt", crawl=True),
    Route("/sitemap.xml", crawlers.sitemap_index, "sitemap", crawl=True),
    Route("/sitemaps/days.xml", crawlers.sitemap_days, "sitemap_days", crawl=True),
    Route("/sitemaps/papers/{part}.xml", crawlers.sitemap_papers, "sitemap_papers", crawl=True),
]

# --- chat push: a member's Apprise channels (docs/chat.md) ---
ROUTES += [
    Route("/settings/chat", chat_pages.chat_page, "chat_settings"),
    Route("/settings/chat", chat_pages.chat_post, "chat_settings_post", ("POST",)),
]


def robots_rules(table: list[Route]) -> list[str]:
    """The Disallow paths that keep crawlers to the routes marked crawl (RFC 9309 patterns)."""
    open_ = [_pattern(r.path) for r in table if r.crawl and "GET" in r.methods]
    closed = [_pattern(r.path) for r in table if not r.crawl and "GET" in r.methods]
    rules: list[str] = []
    for path in closed:
        # The shortest prefix that closes this route and opens nothing: its first segment when
        # no public route starts with it (/api/, /settings), else the route's own pattern.
        first = "/" + path.split("/")[1] if path != "/" else path
        candidates = [first + "/", first] if first != path else [path]
        rule = next((c for c in candidates if not any(robots_match(c, o) for o in open_)), path)
        rules.append(rule)
    # A rule that another, shorter one already covers says nothing more.
    rules = sorted(set(rules), key=lambda r: (len(r), r))
    return [r for i, r in enumerate(rules) if not any(robots_match(s, r) for s in rules[:i])]


def _pattern(path: str) -> str:
    """A route path as a robots.txt pattern: each {parameter} matches anything (*)."""
    # Patterns match from the start of a path, so a trailing * adds nothing.
    return re.sub(r"\{[^}]*\}", "*", path).rstrip("*") or "/"


def robots_match(pattern: str, path: str) -> bool:
    """Whether an RFC 9309 pattern (* any characters, $ the end) matches a path's start."""
    regex = "".join(".*" if c == "*" else "$" if c == "$" else re.escape(c) for c in pattern)
    return re.match(regex, path) is not None


def register(app: FastAPI, routes: list[Route] | None = None) -> None:
    """Add the URL table (ROUTES, then CATCH_ALL) to an app."""
    table = [*(ROUTES if routes is None else routes), *CATCH_ALL]
    app.state.robots_rules = robots_rules(table)
    for r in table:
        app.add_api_route(
            r.path,
            r.endpoint,
            name=r.name,
            methods=list(r.methods),
            include_in_schema=r.api,
            response_class=JSONResponse if r.api else HTMLResponse,
            # JSON routes document their answer and errors in the OpenAPI schema.
            response_model=api_models.MODELS.get(r.name, dict[str, Any]) if r.api else None,
            status_code=r.status if r.api else None,
            responses={**api_models.ERRORS, **api_models.EXTRA_ERRORS.get(r.name, {})}
            if r.api
            else None,
        )
        if "GET" in r.methods:
            # Uptime checks and link checkers send HEAD; answer it like GET, body left out.
            app.add_api_route(
                r.path,
                r.endpoint,
                name=f"{r.name}__head",
                methods=["HEAD"],
                include_in_schema=False,
                response_class=JSONResponse if r.api else HTMLResponse,
            )
    community.install(app)  # community: template globals, error pages, CSRF cookie
    authors.install()  # authors: author links and claim badges in templates
    notifications.install()  # follows: the header's unread count
    follows.install()  # follows: the Follow buttons' state
    source_pages.install()  # bio: readable category names
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = api_models.openapi_without_422(build())
            app.openapi_schema = with_shadowed_values_excluded(schema, table)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _template_regex(template: str) -> str:
    """A path template as a regex of the values it produces (each parameter any text)."""
    out, at = [], 0
    for m in _PARAM.finditer(template):
        out.append(re.escape(template[at : m.start()]))
        out.append(".+" if m.group(2) == "path" else "[^/]+")
        at = m.end()
    return "".join(out) + re.escape(template[at:])


def shadowed_values(table: list[Route], index: int) -> list[str]:
    """Regexes of the values of route `index`'s one parameter that earlier routes answer instead.

    Starlette takes the first route whose path and method both match, so
    `/api/papers/{arxiv_id:path}` never sees `search` or `2405.18407/similar`: those belong to
    routes listed before it.
    """
    r = table[index]
    params = list(_PARAM.finditer(r.path))
    if len(params) != 1:
        return []
    param = params[0]
    prefix, suffix = r.path[: param.start()], r.path[param.end() :]
    found = []
    for earlier in table[:index]:
        p = earlier.path
        if not set(earlier.methods) & set(r.methods) or p == r.path:
            continue
        if not (p.startswith(prefix) and p.endswith(suffix)):
            continue
        middle = p[len(prefix) : len(p) - len(suffix)]
        if not middle or ("/" in middle and param.group(2) != "path"):
            continue
        found.append(_template_regex(middle))
    return found


def with_shadowed_values_excluded(schema: dict[str, Any], table: list[Route]) -> dict[str, Any]:
    """Document in each path parameter's pattern the values an earlier route takes.

    Without it the schema promises, say, a paper for GET /api/papers/search, and a client or a
    fuzzer that believes it gets the search route's list instead.
    """
    for i, r in enumerate(table):
        values = shadowed_values(table, i) if r.api else []
        if not values:
            continue
        name = _PARAM.search(r.path).group(1)  # type: ignore[union-attr]  # one parameter
        pattern = "^(?!(?:" + "|".join(values) + ")$)"
        ops = schema.get("paths", {}).get(_PARAM.sub(r"{\1}", r.path), {})
        for method in r.methods:
            for param in ops.get(method.lower(), {}).get("parameters", []):
                if param.get("in") == "path" and param.get("name") == name:
                    param.setdefault("schema", {})["pattern"] = pattern
    return schema

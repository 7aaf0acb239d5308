"""What every handler needs: the app's database and settings, and template rendering."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import Response
from starlette.routing import BaseRoute, NoMatchFound

from paperfeed.config import Settings
from paperfeed.store import Database
from paperfeed.store import signals as signal_store
from paperfeed.web import mathtext

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def db_of(request: Request) -> Database:
    """The database the app was created with."""
    db: Database = request.app.state.db
    return db


def settings_of(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def _routes_by_name(request: Request) -> dict[str, list[BaseRoute]]:
    """The app's routes grouped by name, built once: Starlette's own look-up scans every route."""
    routes = request.app.router.routes
    cached = getattr(request.app.state, "pf_routes", None)
    if cached is None or cached[0] != len(routes):
        table: dict[str, list[BaseRoute]] = {}
        for route in routes:
            table.setdefault(getattr(route, "name", None) or "", []).append(route)
        cached = request.app.state.pf_routes = (len(routes), table)
    return cached[1]  # type: ignore[no-any-return]


def path_for(request: Request, name: str, **params: Any) -> str:
    """The URL path of a named route (relative to the site root, honouring a proxy's root_path)."""
    root = request.scope.get("root_path", "")
    values = {k: str(v) for k, v in params.items()}
    for route in _routes_by_name(request).get(name, ()):
        try:
            return root + str(route.url_path_for(name, **values))
        except NoMatchFound:
            continue
    raise NoMatchFound(name, values)


def has_route(request: Request, name: str) -> bool:
    """True when a route of that name is registered (templates link to optional features)."""
    return name in _routes_by_name(request)


def _globals(request: Request) -> dict[str, Any]:
    settings = settings_of(request)
    return {
        "site_name": settings.site_name,
        "settings": settings,
        "path_for": lambda name, **params: path_for(request, name, **params),
        "has_route": lambda name: has_route(request, name),
        "stars_of": lambda paper_id: stars_of(request, paper_id),
        # The search page for a query, e.g. author:"Ada Lovelace" or a keyword.
        "search_url": lambda q: path_for(request, "search") + "?" + urlencode({"q": q}),
    }


def stars_of(request: Request, paper_id: str) -> int | None:
    """A listed paper's latest GitHub star count, fetched once for every card on the page."""
    cache: dict[str, float | None] = request.state.__dict__.setdefault("pf_stars", {})
    if paper_id not in cache:
        wanted = cards_to_fetch(request, cache, paper_id)
        with db_of(request).read() as conn:
            got = signal_store.latest_of_kind(conn, wanted, "github_stars")
        cache.update((i, got.get(i)) for i in wanted)
    value = cache[paper_id]
    return None if value is None else int(value)


def short_date(value: date | datetime | None) -> str:
    """A date like 'Mar 11, 2025'."""
    if value is None:
        return ""
    return f"{value:%b} {value.day}, {value.year}"


def time_tag(value: date | datetime | None) -> Markup:
    """A <time> element whose datetime attribute is valid HTML (seconds, UTC), showing short_date."""
    if value is None:
        return Markup("")
    if isinstance(value, datetime):
        stamp = value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
    else:
        stamp = value.isoformat()
    return Markup(f'<time datetime="{stamp}">{escape(short_date(value))}</time>')


def date_range(start: date, end: date) -> Markup:
    """Two dates as one range of <time> elements, the shared year or month said once."""
    if start == end:
        return time_tag(start)
    if start.year == end.year:
        first = f"{start:%b} {start.day}"
    else:
        first = short_date(start)
    return Markup(f'<time datetime="{start.isoformat()}">{escape(first)}</time> – {time_tag(end)}')


def code_spans(text: str | None) -> Markup:
    """A message escaped, with its `backticked` commands shown as <code> instead of backticks."""
    parts = str(text or "").split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: leave the text as it is
        return Markup(escape(text or ""))
    return Markup("").join(
        Markup("<code>%s</code>") % part if i % 2 else escape(part) for i, part in enumerate(parts)
    )


def quoted(value: str) -> str:
    """A search phrase in double quotes (inner quotes dropped: the parser has no escapes)."""
    return '"' + value.replace('"', " ").strip() + '"'


def safe_url(value: str | None) -> str | None:
    """The URL when it is http(s), else None: stored links must never become javascript: hrefs."""
    if value and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return None


templates = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[_globals])
templates.env.filters["math"] = mathtext.render
templates.env.filters["math_paragraphs"] = mathtext.render_paragraphs
templates.env.filters["math_excerpt"] = mathtext.render_excerpt
templates.env.filters["math_snippet"] = mathtext.render_highlighted
templates.env.filters["plain"] = mathtext.plain
templates.env.filters["math_snippet_in"] = mathtext.render_snippet
templates.env.filters["short_date"] = short_date
templates.env.filters["time_tag"] = time_tag
templates.env.filters["quoted"] = quoted
templates.env.filters["code_spans"] = code_spans
templates.env.globals["date_range"] = date_range
templates.env.filters["safe_url"] = safe_url
templates.env.trim_blocks = True
# Templates ship with the package and never change under a running server: skip the file-stat
# that auto-reload costs on every include of every card.
templates.env.auto_reload = False
templates.env.lstrip_blocks = True


def cards_to_fetch(request: Request, known: dict[str, Any], paper_id: str) -> list[str]:
    """This paper and every other listed paper not yet in `known`, for one batched look-up."""
    listed = request.state.__dict__.get("pf_cards", ())
    return list(dict.fromkeys([paper_id, *(i for i in listed if i not in known)]))


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    cards: Iterable[str] = (),
) -> Response:
    """Render a template with the request and the site-wide globals; `cards`: the listed papers."""
    # Recorded so the per-card vote and library look-ups run once for all of them.
    request.state.__dict__.setdefault("pf_cards", []).extend(cards)
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def wants_json(request: Request) -> bool:
    """True for the JSON API, whose errors are JSON rather than HTML pages."""
    return request.url.path.startswith("/api/")


def error_response(request: Request, status: int, title: str, message: str) -> Response:
    """An error as JSON ({"error": ...}, like the Hub) for the API and as an HTML page otherwise."""
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    context = {"status": status, "title": title, "message": message}
    return render(request, "error.html", context, status_code=status)

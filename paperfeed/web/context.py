"""What every handler needs: the app's database and settings, and template rendering."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from paperfeed.config import Settings
from paperfeed.store import Database
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


def path_for(request: Request, name: str, **params: Any) -> str:
    """The URL path of a named route (relative to the site root, honouring a proxy's root_path)."""
    root = request.scope.get("root_path", "")
    return root + str(request.app.url_path_for(name, **{k: str(v) for k, v in params.items()}))


def has_route(request: Request, name: str) -> bool:
    """True when a route of that name is registered (templates link to optional features)."""
    return any(getattr(r, "name", None) == name for r in request.app.router.routes)


def _globals(request: Request) -> dict[str, Any]:
    settings = settings_of(request)
    return {
        "site_name": settings.site_name,
        "settings": settings,
        "path_for": lambda name, **params: path_for(request, name, **params),
        "has_route": lambda name: has_route(request, name),
    }


def short_date(value: date | datetime | None) -> str:
    """A date like 'Mar 11, 2025'."""
    if value is None:
        return ""
    return f"{value:%b} {value.day}, {value.year}"


def safe_url(value: str | None) -> str | None:
    """The URL when it is http(s), else None: stored links must never become javascript: hrefs."""
    if value and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return None


templates = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[_globals])
templates.env.filters["math"] = mathtext.render
templates.env.filters["math_paragraphs"] = mathtext.render_paragraphs
templates.env.filters["math_excerpt"] = mathtext.render_excerpt
templates.env.filters["plain"] = mathtext.plain
templates.env.filters["short_date"] = short_date
templates.env.filters["safe_url"] = safe_url
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """Render a template with the request and the site-wide globals."""
    return templates.TemplateResponse(request, name, context, status_code=status_code)

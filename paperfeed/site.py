"""The served site: the web app with the MCP endpoint at /mcp (web and MCP never import each other)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from paperfeed.config import Settings
from paperfeed.mcpserver.http import McpEndpoint
from paperfeed.store import Database
from paperfeed.web.app import create_app

MCP_PATH = "/mcp"


def create_site(settings: Settings, db: Database | None = None) -> FastAPI:
    """The web app (see web.app.create_app) serving MCP over streamable HTTP at /mcp too."""
    app = create_app(settings, db)
    endpoint = McpEndpoint(app.state.db, settings)  # the database the web app opened or was given
    # First, so no page route with a path parameter claims /mcp.
    app.router.routes.insert(0, Route(MCP_PATH, endpoint, name="mcp"))
    web_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with web_lifespan(a) as state, endpoint.lifespan():
            yield state

    app.router.lifespan_context = lifespan
    return app


def site_from_env() -> FastAPI:
    """Build the site from PAPERFEED_* variables: the factory each `serve --workers N` process calls."""
    return create_site(Settings.from_env())

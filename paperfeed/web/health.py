"""GET /healthz: is the database reachable, and can the search index be opened."""

from __future__ import annotations

import logging
import os

from fastapi import Request
from fastapi.responses import JSONResponse

from paperfeed.config import Settings
from paperfeed.store import ops
from paperfeed.web.context import db_of, settings_of

log = logging.getLogger(__name__)


def search_status(settings: Settings) -> str:
    """'ok', 'not built' (before the first `paperfeed index`), 'not installed' or 'error'."""
    try:
        from paperfeed.search.service import SearchUnavailable, engine_for
    except ImportError:
        return "not installed"
    try:
        engine = engine_for(settings)
        engine.refresh()  # opens a new generation if the indexer switched to one
        engine.lexical.num_docs  # noqa: B018 - opening and reading is the check
    except SearchUnavailable:
        return "not built"
    except Exception:
        log.exception("search index check failed")
        return "error"
    return "ok"


def healthz(request: Request) -> JSONResponse:
    """200 with {"status": "ok"} when the database answers and the index opens, else 503."""
    checks: dict[str, str] = {}
    try:
        with db_of(request).read() as conn:
            ops.ping(conn)
        checks["database"] = "ok"
    except Exception:
        # The message may hold the database URL; it goes to the log, not to the public.
        log.exception("health check: database unreachable")
        checks["database"] = "error"
    checks["search"] = search_status(settings_of(request))
    # An index not built yet is a fresh install, not an outage: the pages still work.
    healthy = checks["database"] == "ok" and checks["search"] != "error"
    body = {"status": "ok" if healthy else "error", "checks": checks, "pid": os.getpid()}
    return JSONResponse(body, status_code=200 if healthy else 503)

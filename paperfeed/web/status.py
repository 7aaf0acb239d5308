"""The operator's status page for admins: harvests, the search index's lag and the digest outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from paperfeed.config import Settings
from paperfeed.errors import PermissionDenied
from paperfeed.store import Database, ops
from paperfeed.store import harvests as harvest_store
from paperfeed.store import jobqueue as queue_store
from paperfeed.store.harvests import HarvestRun
from paperfeed.web import auth
from paperfeed.web.context import db_of, path_for, render, settings_of
from paperfeed.web.metrics import index_rev

RECENT_RUNS = 30


@dataclass(slots=True)
class StatusView:
    """What an operator checks: store size, index catch-up, harvests and the digest outbox."""

    snapshot: ops.OpsSnapshot
    index_rev: int | None  # None: no keyword index built yet
    runs: list[HarvestRun] = field(default_factory=list)
    # jobs: the PostgreSQL job queue; None where there is none (SQLite, job_queue=local)
    queue: dict[str, dict[str, int]] | None = None
    queue_failures: list[queue_store.QueueFailure] = field(default_factory=list)

    @property
    def index_lag(self) -> int | None:
        """Paper changes the keyword index has not caught up with yet."""
        return None if self.index_rev is None else max(0, self.snapshot.max_rev - self.index_rev)


def status_view(db: Database, settings: Settings) -> StatusView:
    """Read the store's operational numbers and the most recent harvest runs."""
    with db.read() as conn:
        snap = ops.snapshot(conn)
        runs = harvest_store.recent_runs(conn, limit=RECENT_RUNS)
        view = StatusView(snap, index_rev(settings), runs)
        if queue_store.has_queue(conn):
            view.queue = queue_store.depth(conn)
            view.queue_failures = queue_store.recent_failures(conn, limit=RECENT_RUNS)
    return view


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def status_json(view: StatusView) -> dict[str, Any]:
    """The status as JSON (times in UTC)."""
    snap = view.snapshot
    sources = sorted({*snap.harvest_last_success, *snap.harvest_last_run})
    return {
        "papers": snap.papers,
        "papers_rev": snap.max_rev,
        "search": {"index_rev": view.index_rev, "index_lag": view.index_lag},
        "harvest": {
            "sources": {
                s: {
                    "last_success": _iso(snap.harvest_last_success.get(s)),
                    "last_run_started": _iso(last[0]) if last else None,
                    "last_run_status": last[1] if last else None,
                }
                for s in sources
                for last in [snap.harvest_last_run.get(s)]
            },
            "recent_runs": [
                {
                    "id": r.id,
                    "source": r.source,
                    "started_at": _iso(r.started_at),
                    "finished_at": _iso(r.finished_at),
                    "status": r.status,
                    "new": r.new,
                    "updated": r.updated,
                    "skipped": r.skipped,
                    "errors": r.errors,
                    "message": r.message,
                }
                for r in view.runs
            ],
        },
        "digests": {"outbox": dict(sorted(snap.outbox.items()))},
        "queue": None
        if view.queue is None
        else {
            "tasks": view.queue,
            "recent_failures": [
                {
                    "job_id": f.job_id,
                    "task": f.task,
                    "attempt": f.attempt + 1,
                    "at": _iso(f.at),
                    "message": f.message,
                    "status": f.status,
                    "retry_at": _iso(f.retry_at),
                }
                for f in view.queue_failures
            ],
        },
    }


def _admin(request: Request) -> bool:
    """True for an admin; PermissionDenied for other members; False when nobody is signed in."""
    user = auth.current_user(request)
    if user is None:
        return False
    if user.role != "admin":
        raise PermissionDenied("the status page is for admins")
    return True


def status_page(request: Request) -> Response:
    """Harvest runs, index lag and the digest outbox, for admins."""
    if not _admin(request):
        return auth.login_redirect(request)
    view = status_view(db_of(request), settings_of(request))
    return render(request, "status.html", {"view": view})


def status_api(request: Request) -> Response:
    """The status page as JSON, for admins."""
    if not _admin(request):
        return JSONResponse(
            {"error": "sign in first", "login": path_for(request, "login_page")}, 401
        )
    return JSONResponse(status_json(status_view(db_of(request), settings_of(request))))

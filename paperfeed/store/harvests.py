"""Harvest cursors and the record of harvest runs (the operators' view)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import insert_for
from paperfeed.store.schema import harvest_runs, harvest_state


@dataclass
class HarvestRun:
    """One recorded harvest run."""

    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running, ok, nothing-new, error, interrupted
    new: int
    updated: int
    skipped: int
    errors: int
    message: str | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def get_state(conn: Connection, source: str) -> str | None:
    """The stored cursor text of a source, or None."""
    q = sa.select(harvest_state.c.cursor).where(harvest_state.c.source == source)
    return conn.execute(q).scalar_one_or_none()


def set_state(conn: Connection, source: str, cursor: str | None) -> None:
    """Store a source's cursor text."""
    stmt = insert_for(conn, harvest_state).values(source=source, cursor=cursor, updated_at=_now())
    stmt = stmt.on_conflict_do_update(
        index_elements=["source"],
        set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
    )
    conn.execute(stmt)


def all_states(conn: Connection) -> dict[str, tuple[str | None, datetime]]:
    """Every source's cursor text and when it last changed."""
    q = sa.select(harvest_state.c.source, harvest_state.c.cursor, harvest_state.c.updated_at)
    return {r.source: (r.cursor, r.updated_at) for r in conn.execute(q)}


def start_run(conn: Connection, source: str) -> int:
    """Record a run as started and return its id."""
    stmt = (
        harvest_runs.insert()
        .values(
            source=source,
            started_at=_now(),
            status="running",
            new=0,
            updated=0,
            skipped=0,
            errors=0,
        )
        .returning(harvest_runs.c.id)
    )
    return int(conn.execute(stmt).scalar_one())


def update_run(
    conn: Connection,
    run_id: int,
    *,
    new: int,
    updated: int,
    skipped: int,
    errors: int,
    status: str | None = None,
    message: str | None = None,
    finished: bool = False,
) -> None:
    """Store a run's running totals, and its outcome when it finished."""
    values: dict[str, object] = {
        "new": new,
        "updated": updated,
        "skipped": skipped,
        "errors": errors,
    }
    if status is not None:
        values["status"] = status
    if message is not None:
        values["message"] = message[:4000]
    if finished:
        values["finished_at"] = _now()
    conn.execute(sa.update(harvest_runs).where(harvest_runs.c.id == run_id).values(**values))


def interrupt_stale(conn: Connection, source: str) -> int:
    """Mark a source's runs still 'running' as interrupted; call it only while holding its lock."""
    res = conn.execute(
        sa.update(harvest_runs)
        .where(harvest_runs.c.source == source, harvest_runs.c.status == "running")
        .values(status="interrupted", message="the process stopped before the run finished")
    )
    return int(res.rowcount or 0)


def _run(r: sa.Row) -> HarvestRun:  # type: ignore[type-arg]
    return HarvestRun(
        id=r.id,
        source=r.source,
        started_at=r.started_at,
        finished_at=r.finished_at,
        status=r.status,
        new=r.new,
        updated=r.updated,
        skipped=r.skipped,
        errors=r.errors,
        message=r.message,
    )


def last_runs(conn: Connection) -> list[HarvestRun]:
    """The latest run of every source, by source name."""
    latest = (
        sa.select(sa.func.max(harvest_runs.c.id).label("id"))
        .group_by(harvest_runs.c.source)
        .subquery()
    )
    q = (
        sa.select(harvest_runs)
        .where(harvest_runs.c.id.in_(sa.select(latest.c.id)))
        .order_by(harvest_runs.c.source)
    )
    return [_run(r) for r in conn.execute(q)]


def recent_runs(
    conn: Connection, source: str | None = None, *, limit: int = 20
) -> list[HarvestRun]:
    """The most recent runs, newest first, optionally of one source."""
    q = sa.select(harvest_runs).order_by(harvest_runs.c.id.desc()).limit(limit)
    if source is not None:
        q = q.where(harvest_runs.c.source == source)
    return [_run(r) for r in conn.execute(q)]


def last_success(conn: Connection, source: str) -> datetime | None:
    """When a source last finished a run without error."""
    q = sa.select(sa.func.max(harvest_runs.c.finished_at)).where(
        harvest_runs.c.source == source, harvest_runs.c.status.in_(("ok", "nothing-new"))
    )
    return conn.execute(q).scalar_one_or_none()


def hide_deleted(conn: Connection, ids: list[str]) -> int:
    """Hide papers upstream reports as deleted (kept, so votes and links survive); return how many."""
    from paperfeed.store.papers import next_revs
    from paperfeed.store.schema import papers

    if not ids:
        return 0
    visible = [
        r[0]
        for r in conn.execute(
            sa.select(papers.c.id).where(papers.c.id.in_(ids), papers.c.hidden == sa.false())
        )
    ]
    if not visible:
        return 0
    rev = next_revs(conn, len(visible))
    now = _now()
    for pid in sorted(visible):
        conn.execute(
            sa.update(papers)
            .where(papers.c.id == pid)
            .values(hidden=True, rev=rev, modified_at=now)
        )
        rev += 1
    return len(visible)

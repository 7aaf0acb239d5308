"""Operational queries for health checks and metrics: reachability, sizes, harvest and digest state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.schema import harvest_runs, papers

# Lightweight table handles: the digest tables belong to a later migration and may be absent
# while an old database is being upgraded.
_outbox = sa.table("outbox", sa.column("status"))


@dataclass
class OpsSnapshot:
    """Numbers an operator watches: papers, the change counter, harvests and the digest outbox."""

    papers: int = 0
    max_rev: int = 0
    harvest_last_success: dict[str, datetime] = field(default_factory=dict)
    harvest_last_run: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    harvest_runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (source, status)
    outbox: dict[str, int] = field(default_factory=dict)  # status -> rows


def analyze(conn: Connection, tables: tuple[str, ...] = ()) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk write (all tables when none named)."""
    # Until autovacuum gets to a freshly filled table the planner has no row counts: PostgreSQL
    # then skipped the HNSW index for a full scan (54 ms instead of 8.5 at 20k vectors). SQLite
    # keeps its built-in estimates, which every SQLite figure in docs/benchmarks.md was made with.
    if conn.dialect.name != "postgresql":
        return
    conn.execute(sa.text("ANALYZE " + ", ".join(_identifier(t) for t in tables)))


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {name!r}")
    return name


def ping(conn: Connection) -> bool:
    """True when the database answers a trivial query."""
    return conn.execute(sa.text("SELECT 1")).scalar_one() == 1


def snapshot(conn: Connection) -> OpsSnapshot:
    """Read the operational numbers in one transaction."""
    snap = OpsSnapshot()
    snap.papers = int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())
    snap.max_rev = int(
        conn.execute(sa.select(sa.func.coalesce(sa.func.max(papers.c.rev), 0))).scalar_one()
    )
    ok = harvest_runs.c.status.in_(("ok", "nothing-new"))
    for source, finished in conn.execute(
        sa.select(harvest_runs.c.source, sa.func.max(harvest_runs.c.finished_at))
        .where(ok)
        .group_by(harvest_runs.c.source)
    ):
        if finished is not None:
            snap.harvest_last_success[source] = finished
    latest = sa.select(sa.func.max(harvest_runs.c.id)).group_by(harvest_runs.c.source)
    for source, started, status in conn.execute(
        sa.select(harvest_runs.c.source, harvest_runs.c.started_at, harvest_runs.c.status).where(
            harvest_runs.c.id.in_(latest)
        )
    ):
        snap.harvest_last_run[source] = (started, status)
    for source, status, n in conn.execute(
        sa.select(harvest_runs.c.source, harvest_runs.c.status, sa.func.count()).group_by(
            harvest_runs.c.source, harvest_runs.c.status
        )
    ):
        snap.harvest_runs[(source, status)] = int(n)
    if sa.inspect(conn).has_table("outbox"):
        for status, n in conn.execute(
            sa.select(_outbox.c.status, sa.func.count()).group_by(_outbox.c.status)
        ):
            snap.outbox[str(status)] = int(n)
    return snap

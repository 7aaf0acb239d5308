"""External signals about papers over time, such as GitHub stars."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import Signal
from paperfeed.store.db import insert_for
from paperfeed.store.schema import signals


def add_signals(conn: Connection, items: Sequence[Signal]) -> int:
    """Record observations; the same (paper, kind, time) is stored once."""
    if not items:
        return 0
    rows = {
        (s.paper_id, s.kind, s.observed_at): {
            "paper_id": s.paper_id,
            "kind": s.kind,
            "observed_at": s.observed_at.replace(tzinfo=None),
            "value": s.value,
        }
        for s in items
    }
    stmt = insert_for(conn, signals).values(list(rows.values())).on_conflict_do_nothing()  # type: ignore[attr-defined]
    return int(conn.execute(stmt).rowcount or 0)


def latest(conn: Connection, paper_id: str) -> dict[str, float]:
    """The latest value of each signal kind for a paper."""
    q = (
        sa.select(signals.c.kind, signals.c.value)
        .where(signals.c.paper_id == paper_id)
        .order_by(signals.c.observed_at)
    )
    return {r.kind: r.value for r in conn.execute(q)}


def latest_of_kind(conn: Connection, paper_ids: Sequence[str], kind: str) -> dict[str, float]:
    """The latest value of one signal kind for each of several papers (absent when never seen)."""
    if not paper_ids:
        return {}
    q = (
        sa.select(signals.c.paper_id, signals.c.value)
        .where(signals.c.paper_id.in_(list(paper_ids)), signals.c.kind == kind)
        .order_by(signals.c.observed_at)
    )
    return {r.paper_id: r.value for r in conn.execute(q)}

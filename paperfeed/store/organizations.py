"""Hugging Face organizations: upsert by the Hub's id, and the columns a paper row reads them by."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import Organization
from paperfeed.store.db import insert_for
from paperfeed.store.schema import organizations, papers


def upsert_organizations(conn: Connection, items: Iterable[Organization]) -> int:
    """Store organizations; a known id takes the newest name, full name and avatar."""
    rows = {
        o.id: {"id": o.id, "name": o.name, "fullname": o.fullname, "avatar": o.avatar}
        for o in items
    }
    if not rows:
        return 0
    stmt = insert_for(conn, organizations).values(list(rows.values()))
    stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["id"],
        set_={
            "name": stmt.excluded.name,  # type: ignore[attr-defined]
            "fullname": stmt.excluded.fullname,  # type: ignore[attr-defined]
            "avatar": sa.func.coalesce(stmt.excluded.avatar, organizations.c.avatar),  # type: ignore[attr-defined]
        },
    )
    return int(conn.execute(stmt).rowcount or 0)


def _field(name: str) -> Any:
    # A correlated primary-key lookup: no join, so every caller's FROM/JOIN stays as it was.
    return (
        sa.select(getattr(organizations.c, name))
        .where(organizations.c.id == papers.c.organization_id)
        .scalar_subquery()
        .label(f"org_{name}")
    )


def organization_columns() -> list[Any]:
    """The org_name, org_fullname and org_avatar columns of a paper row."""
    return [_field("name"), _field("fullname"), _field("avatar")]


def organization_from_row(m: Any) -> Organization | None:
    """The organization of a paper row selected with organization_columns(), or None."""
    if not m.get("organization_id") or m.get("org_name") is None:
        return None
    return Organization(m["organization_id"], m["org_name"], m["org_fullname"], m["org_avatar"])

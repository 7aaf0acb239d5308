"""Links an author or curator set by hand: a later harvest must not put the source's back."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Add papers.links_edited_at (null: the links are the sources')."""
    conn.execute(sa.text("ALTER TABLE papers ADD COLUMN links_edited_at TIMESTAMP"))

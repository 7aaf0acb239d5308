"""Rate-limit counters in the database, so every web process counts against one limit."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create the rate_limits table: one fixed-window counter per (bucket, key)."""
    m = sa.MetaData()
    table = sa.Table(
        "rate_limits",
        m,
        sa.Column("bucket", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("window_end", sa.Float, nullable=False),  # Unix time the window closes
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Index("ix_rate_limits_window_end", "window_end"),
    )
    m.create_all(conn, tables=[table])

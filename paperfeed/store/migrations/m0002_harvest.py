"""Job locks: one row per scheduled job so two workers on SQLite never run it at once."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create the job_locks table (PostgreSQL uses advisory locks but keeps the table too)."""
    m = sa.MetaData()
    sa.Table(
        "job_locks",
        m,
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    m.create_all(conn)

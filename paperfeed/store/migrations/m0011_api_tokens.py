"""Personal API tokens: a member's bearer credentials for scripts, the JSON write API and MCP."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Add the api_tokens table (secrets stored only as SHA-256 digests)."""
    m = sa.MetaData()
    sa.Table("users", m, sa.Column("id", sa.Integer, primary_key=True))
    table = sa.Table(
        "api_tokens",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("revoked_at", sa.DateTime),
        sa.Index("ix_api_tokens_user_id", "user_id"),
        sa.Index("ix_api_tokens_prefix", "prefix"),
    )
    m.create_all(conn, tables=[table])

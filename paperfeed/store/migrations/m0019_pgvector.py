"""pgvector: the paper_embeddings table, when this PostgreSQL has the vector extension."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from paperfeed.store import pgvectors


def upgrade(conn: Connection, dialect: str) -> None:
    """Create the vector table on PostgreSQL with pgvector; a no-op on SQLite or without it.

    The indexer runs the same idempotent step before each copy (search/ann_pgvector.sync), so an
    operator who installs pgvector after this migration ran needs no migration, only
    `paperfeed index`.
    """
    if dialect == "postgresql":
        pgvectors.ensure_schema(conn)

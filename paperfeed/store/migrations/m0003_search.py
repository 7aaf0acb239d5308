"""Search: one embedding vector per paper (the source of truth the ANN index is derived from)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create paper_vectors and the vector change counter."""
    m = sa.MetaData()
    # A stub of the existing papers table, only so the foreign key can resolve.
    sa.Table("papers", m, sa.Column("id", sa.String(64), primary_key=True))
    vectors = sa.Table(
        "paper_vectors",
        m,
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),  # float32 little-endian
        sa.Column("text_hash", sa.String(32), nullable=False),  # of the embedded text
        sa.Column("paper_rev", sa.BigInteger, nullable=False),  # papers.rev when last checked
        sa.Column("rev", sa.BigInteger, nullable=False),  # vector change counter
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Index("ix_paper_vectors_rev", "rev"),
    )
    m.create_all(conn, tables=[vectors])
    conn.execute(sa.text("INSERT INTO counters (name, value) VALUES ('vector_rev', 0)"))

"""Full text from arXiv's HTML: one parsed copy per paper, and its bibliography as rows."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create fulltexts (derived data with fetch status) and paper_references (cited-by index)."""
    m = sa.MetaData()
    fulltexts = sa.Table(
        "fulltexts",
        m,
        sa.Column("paper_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_url", sa.Text, nullable=False),
        sa.Column("paper_version", sa.Integer, nullable=False),
        sa.Column("fetched_at", sa.DateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("retry_at", sa.DateTime),
        sa.Column("error", sa.Text),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("title", sa.Text),
        sa.Column("sections", sa.JSON),
        sa.Column("num_references", sa.Integer, nullable=False, server_default="0"),
        sa.Index("ix_fulltexts_due", "status", "retry_at"),
    )
    refs = sa.Table(
        "paper_references",
        m,
        sa.Column("paper_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("arxiv_id", sa.String(64)),
        sa.Column("doi", sa.String(255)),
        sa.Column("url", sa.Text),
        sa.Column("cited_id", sa.String(64)),
        sa.Index("ix_paper_references_cited", "cited_id", "paper_id"),
        sa.Index("ix_paper_references_arxiv", "arxiv_id"),
        sa.Index("ix_paper_references_doi", "doi"),
    )
    m.create_all(conn, tables=[fulltexts, refs])
    # References name published papers by DOI: resolving them looks papers up by it.
    conn.execute(sa.text("CREATE INDEX ix_papers_doi ON papers (doi)"))

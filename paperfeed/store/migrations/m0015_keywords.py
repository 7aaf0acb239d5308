"""Keywords: each paper's keyphrases with their source (hf or local), and the extraction runs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create paper_keywords and keyword_runs."""
    m = sa.MetaData()
    # A stub of the existing papers table, only so the foreign keys can resolve.
    sa.Table("papers", m, sa.Column("id", sa.String(64), primary_key=True))
    keywords = sa.Table(
        "paper_keywords",
        m,
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source", sa.String(16), nullable=False),  # 'hf' (HF's ai_keywords) or 'local'
        sa.Column("rank", sa.Integer, nullable=False),  # 0 is the best
        sa.Column("keyword", sa.String(300), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("paper_id", "source", "rank"),
    )
    runs = sa.Table(
        "keyword_runs",
        m,
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("extractor", sa.String(200), nullable=False),  # extractor version + model
        sa.Column("text_hash", sa.String(32), nullable=False),  # of the text keywords came from
        sa.Column("paper_rev", sa.BigInteger, nullable=False),  # papers.rev when last checked
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    m.create_all(conn, tables=[keywords, runs])

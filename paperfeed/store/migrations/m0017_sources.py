"""Paper sources: a source column on papers and the table of every identity a paper has."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Add papers.source (existing papers are arXiv's) and paper_identities, filled from papers."""
    conn.execute(
        sa.text("ALTER TABLE papers ADD COLUMN source VARCHAR(16) NOT NULL DEFAULT 'arxiv'")
    )
    m = sa.MetaData()
    sa.Table("papers", m, sa.Column("id", sa.String(64), primary_key=True))
    table = sa.Table(
        "paper_identities",
        m,
        sa.Column("value", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "paper_id", sa.String(64), sa.ForeignKey("papers.id"), nullable=False, index=True
        ),
    )
    m.create_all(conn, tables=[table])
    conn.execute(
        sa.text(
            "INSERT INTO paper_identities (value, kind, paper_id) SELECT id, 'arxiv', id FROM papers"
        )
    )
    # A journal DOI two arXiv papers both name stays with the first (ON CONFLICT: both dialects).
    conn.execute(
        sa.text(
            "INSERT INTO paper_identities (value, kind, paper_id) "
            "SELECT lower(doi), 'journal', min(id) FROM papers WHERE doi IS NOT NULL AND doi <> '' "
            "GROUP BY lower(doi) ON CONFLICT DO NOTHING"
        )
    )

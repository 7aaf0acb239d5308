"""Authorship index (paper_authors) for author pages and follows, and authorship claims."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.normalize import author_slug

_BATCH = 2_000  # papers per backfill round: bounded memory on a million papers


def upgrade(conn: Connection, dialect: str) -> None:
    """Create paper_authors and author_claims, then fill paper_authors from stored papers."""
    m = sa.MetaData()
    sa.Table("papers", m, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table("users", m, sa.Column("id", sa.Integer, primary_key=True))
    authors = sa.Table(
        "paper_authors",
        m,
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),  # 0-based, as in papers.authors
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("slug", sa.String(120), nullable=False),  # normalize.author_slug; "" = et al.
        sa.Index("ix_paper_authors_slug", "slug", "paper_id"),
    )
    claims = sa.Table(
        "author_claims",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),  # the author name as claimed
        sa.Column("slug", sa.String(120), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending | confirmed | rejected
        sa.Column("orcid", sa.String(19)),
        sa.Column("evidence", sa.Text),  # why it was confirmed, or why the check failed
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("decided_by", sa.Integer),  # users.id of the curator; NULL for ORCID evidence
        sa.UniqueConstraint("paper_id", "position", "user_id", name="uq_author_claims_member"),
        sa.Index("ix_author_claims_user", "user_id"),
        sa.Index("ix_author_claims_status", "status", "created_at"),
        sa.Index("ix_author_claims_paper", "paper_id", "status"),
    )
    m.create_all(conn, tables=[authors, claims])
    # Organization pages list an organization's papers: one index probe instead of a scan.
    conn.execute(sa.text("CREATE INDEX ix_papers_organization_id ON papers (organization_id)"))
    _backfill(conn, authors)


def _backfill(conn: Connection, authors: sa.Table) -> None:
    """Index the authors of every stored paper in keyset batches (no OFFSET: linear on 1M)."""
    papers = sa.table("papers", sa.column("id"), sa.column("authors", sa.JSON))
    last = ""
    while True:
        rows = conn.execute(
            sa.select(papers.c.id, papers.c.authors)
            .where(papers.c.id > last)
            .order_by(papers.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        values = [
            {"paper_id": pid, "position": i, "name": name[:1000], "slug": author_slug(name)}
            for pid, names in rows
            for i, name in enumerate(names or [])
            if isinstance(name, str)
        ]
        if values:
            conn.execute(authors.insert(), values)
        last = rows[-1][0]

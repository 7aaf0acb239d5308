"""The first schema: papers, feed entries, external signals, counters and harvest state."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create the core tables as they were in the first release."""
    m = sa.MetaData()
    sa.Table(
        "papers",
        m,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False, server_default=""),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("primary_category", sa.String(64)),
        sa.Column("published", sa.DateTime),
        sa.Column("updated", sa.DateTime),
        sa.Column("comments", sa.Text),
        sa.Column("journal_ref", sa.Text),
        sa.Column("doi", sa.String(255)),
        sa.Column("license", sa.String(255)),
        sa.Column("github_repo", sa.Text),
        sa.Column("project_page", sa.Text),
        sa.Column("ai_summary", sa.Text),
        sa.Column("ai_keywords", sa.JSON),
        sa.Column("ext_upvotes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("votes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("num_comments", sa.Integer, nullable=False, server_default="0"),
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("rev", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("modified_at", sa.DateTime, nullable=False),
        sa.Index("ix_papers_rev", "rev"),
        sa.Index("ix_papers_published", "published"),
        sa.Index("ix_papers_primary_category", "primary_category"),
    )
    sa.Table(
        "feed_entries",
        m,
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("submitted_by", sa.String(255)),
        sa.Column("submitted_at", sa.DateTime),
        sa.Column("source", sa.String(32), nullable=False, server_default="import"),
        sa.Index("ix_feed_entries_day", "day"),
    )
    sa.Table(
        "signals",
        m,
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("observed_at", sa.DateTime, primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )
    sa.Table(
        "counters",
        m,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "harvest_state",
        m,
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("cursor", sa.Text),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "harvest_runs",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("new", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
        sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text),
        sa.Index("ix_harvest_runs_source", "source", "started_at"),
    )
    m.create_all(conn)
    conn.execute(sa.text("INSERT INTO counters (name, value) VALUES ('paper_rev', 0)"))

"""The current tables, as the migrations leave them, for building queries."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False),
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
    sa.Column("ext_upvotes", sa.Integer, nullable=False),  # counts imported from upstream (HF)
    sa.Column("votes", sa.Integer, nullable=False),  # community votes cast here
    sa.Column("num_comments", sa.Integer, nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False),
    sa.Column("rev", sa.BigInteger, nullable=False),  # change counter: derived indexes follow it
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("modified_at", sa.DateTime, nullable=False),
)

feed_entries = sa.Table(
    "feed_entries",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("submitted_by", sa.String(255)),
    sa.Column("submitted_at", sa.DateTime),
    sa.Column("source", sa.String(32), nullable=False),
)

signals = sa.Table(
    "signals",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("observed_at", sa.DateTime, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

harvest_state = sa.Table(
    "harvest_state",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("cursor", sa.Text),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

harvest_runs = sa.Table(
    "harvest_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("new", sa.Integer, nullable=False),
    sa.Column("updated", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("message", sa.Text),
)

# Upvotes shown everywhere: imported counts plus votes cast on this instance.
upvotes_expr = (papers.c.ext_upvotes + papers.c.votes).label("upvotes")

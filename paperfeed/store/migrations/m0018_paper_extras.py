"""Hub repos citing a paper (models, datasets, Spaces) and summaries written by a configured model."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Add paper_repos, paper_repo_counts and paper_summaries."""
    m = sa.MetaData()
    sa.Table("papers", m, sa.Column("id", sa.String(64), primary_key=True))
    repos = sa.Table(
        "paper_repos",
        m,
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),  # model | dataset | space
        sa.Column("position", sa.Integer, primary_key=True),  # the Hub's order (most liked first)
        sa.Column("repo_id", sa.String(255), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),  # the listing item, reduced to known fields
    )
    counts = sa.Table(
        "paper_repo_counts",
        m,
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),  # false: total is a lower bound
        sa.Column("fetched_at", sa.DateTime, nullable=False),
        sa.Index("ix_paper_repo_counts_fetched_at", "fetched_at"),
    )
    summaries = sa.Table(
        "paper_summaries",
        m,
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),  # the paper version summarized
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),  # model, prompt, title, abstract
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    m.create_all(conn, tables=[repos, counts, summaries])

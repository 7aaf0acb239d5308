"""Library and recommendations: collections, saved papers, hidden papers, impressions, cache."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create the library tables and the per-member recommendation cache."""
    m = sa.MetaData()
    # Stubs of existing tables, only so the foreign keys can resolve.
    sa.Table("papers", m, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table("users", m, sa.Column("id", sa.Integer, primary_key=True))

    def user_fk() -> sa.Column[int]:
        return sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        )

    def paper_fk() -> sa.Column[str]:
        return sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        )

    collections = sa.Table(
        "library_collections",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        user_fk(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(100), nullable=False),  # lower-cased, unique per member
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("user_id", "name_key", name="uq_library_collections_name"),
    )
    items = sa.Table(
        "library_items",
        m,
        user_fk(),
        paper_fk(),
        sa.Column(
            "collection_id",
            sa.Integer,
            sa.ForeignKey("library_collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source", sa.String(16), nullable=False),  # save | import
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "paper_id", "collection_id"),
        sa.Index("ix_library_items_collection", "collection_id"),
    )
    hidden = sa.Table(
        "library_hidden",
        m,
        user_fk(),
        paper_fk(),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "paper_id"),
    )
    impressions = sa.Table(
        "library_impressions",
        m,
        user_fk(),
        paper_fk(),
        sa.Column("shown", sa.Integer, nullable=False),  # times shown as a recommendation
        sa.Column("last_shown_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "paper_id"),
    )
    state = sa.Table(
        "library_state",
        m,
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("rev", sa.BigInteger, nullable=False),  # bumped on every library change
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    runs = sa.Table(
        "recommendation_runs",
        m,
        user_fk(),
        sa.Column("scope", sa.String(32), nullable=False),  # "" overall, "c<collection id>"
        sa.Column(
            "profile_key", sa.String(64), nullable=False
        ),  # library rev + votes when computed
        sa.Column("corpus_rev", sa.BigInteger, nullable=False),  # vector_rev when computed
        sa.Column("method", sa.String(32), nullable=False),  # model | centroid | empty
        sa.Column("positives", sa.Integer, nullable=False),
        sa.Column("negatives", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "scope"),
    )
    recs = sa.Table(
        "recommendations",
        m,
        user_fk(),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        paper_fk(),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reason", sa.JSON, nullable=False),  # {"near": [paper ids], "collection": name}
        sa.PrimaryKeyConstraint("user_id", "scope", "rank"),
    )
    m.create_all(conn, tables=[collections, items, hidden, impressions, state, runs, recs])

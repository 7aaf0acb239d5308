"""Hugging Face fidelity: organizations, paper media, submitter details, real listing times."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateColumn

_PAPER_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("organization_id", sa.String(64)),  # organizations.id; HF gives one for ~63%
    sa.Column("discussion_id", sa.String(64)),
    sa.Column("thumbnail", sa.Text),
    sa.Column("media_urls", sa.JSON),
]
_ENTRY_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("submitter_fullname", sa.String(255)),
    sa.Column("submitter_avatar", sa.Text),
    sa.Column("listed_at", sa.DateTime),  # the daily item's own publishedAt (client submitted_at)
    sa.Column("author_participating", sa.Boolean),
]


def _add_columns(conn: Connection, table: str, columns: list[sa.Column[Any]]) -> None:
    for column in columns:
        ddl = CreateColumn(column).compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {ddl}"))


def upgrade(conn: Connection, dialect: str) -> None:
    """Add the organizations table and the HF fields papers and feed entries lacked."""
    m = sa.MetaData()
    table = sa.Table(
        "organizations",
        m,
        sa.Column("id", sa.String(64), primary_key=True),  # the Hub's _id
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("fullname", sa.String(255), nullable=False),
        sa.Column("avatar", sa.Text),
    )
    m.create_all(conn, tables=[table])
    _add_columns(conn, "papers", _PAPER_COLUMNS)
    _add_columns(conn, "feed_entries", _ENTRY_COLUMNS)
    conn.execute(
        sa.text("CREATE INDEX ix_feed_entries_submitted_by ON feed_entries (submitted_by)")
    )
    # num_comments mixed HF's imported count with comments posted here; keep HF's part as a
    # signal and make the column count only the live comments this instance shows.
    conn.execute(
        sa.text(
            "INSERT INTO signals (paper_id, kind, observed_at, value) "
            "SELECT p.id, 'hf_comments', p.modified_at, p.num_comments - "
            "(SELECT count(*) FROM comments c WHERE c.paper_id = p.id AND c.deleted_at IS NULL) "
            "FROM papers p WHERE p.num_comments > "
            "(SELECT count(*) FROM comments c WHERE c.paper_id = p.id AND c.deleted_at IS NULL)"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE papers SET num_comments = (SELECT count(*) FROM comments c "
            "WHERE c.paper_id = papers.id AND c.deleted_at IS NULL)"
        )
    )

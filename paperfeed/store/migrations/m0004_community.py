"""Community: users, sessions, one-time tokens, votes, comments, submissions, trending scores."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create the community tables as they were in their first release."""
    m = sa.MetaData()
    sa.Table("papers", m, sa.Column("id", sa.String(64), primary_key=True))
    users = sa.Table(
        "users",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),  # lower-cased: unique ignoring case
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.Text),
        sa.Column("role", sa.String(16), nullable=False, server_default="member"),
        sa.Column("email_verified_at", sa.DateTime),
        sa.Column("github_url", sa.Text),
        sa.Column("orcid_url", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("email_key", name="uq_users_email_key"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    sa.Table(
        "sessions",
        m,
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Index("ix_sessions_user", "user_id"),
    )
    sa.Table(
        "auth_tokens",
        m,
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False
        ),
        sa.Column("data", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
        sa.Index("ix_auth_tokens_user", "user_id"),
    )
    sa.Table(
        "votes",
        m,
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey(users.c.id, ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Index("ix_votes_paper", "paper_id"),
        sa.Index("ix_votes_created", "created_at"),
    )
    sa.Table(
        "comments",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False
        ),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("edited_at", sa.DateTime),
        sa.Column("deleted_at", sa.DateTime),
        sa.Index("ix_comments_paper", "paper_id", "created_at"),
        sa.Index("ix_comments_user", "user_id"),
    )
    sa.Table(
        "submissions",
        m,
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,  # one submission per paper
        ),
        sa.Column("user_id", sa.Integer, sa.ForeignKey(users.c.id, ondelete="SET NULL")),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Index("ix_submissions_user", "user_id", "submitted_at"),
    )
    sa.Table(
        "trending_scores",
        m,
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("votes_24h", sa.Integer, nullable=False),
        sa.Column("stars_gained", sa.Float, nullable=False),
        sa.Column("computed_at", sa.DateTime, nullable=False),
        sa.Index("ix_trending_scores_score", "score"),
    )
    m.create_all(conn, tables=[t for t in m.sorted_tables if t.name != "papers"])

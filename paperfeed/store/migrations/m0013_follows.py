"""Follows: what members follow, each match delivered once, notifications, and the private feed key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def _tables(m: sa.MetaData) -> list[sa.Table]:
    sa.Table("papers", m, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table("users", m, sa.Column("id", sa.Integer, primary_key=True))

    def user_fk() -> sa.Column[int]:
        return sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        )

    follows = sa.Table(
        "follows",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        user_fk(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("label", sa.String(400), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("user_id", "kind", "target", name="uq_follows_target"),
        sa.Index("ix_follows_kind_target", "kind", "target"),
    )
    matches = sa.Table(
        "follow_matches",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "follow_id",
            sa.Integer,
            sa.ForeignKey("follows.id", ondelete="CASCADE"),
            nullable=False,
        ),
        user_fk(),
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("matched_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("follow_id", "paper_id", "version", name="uq_follow_matches"),
        sa.Index("ix_follow_matches_user", "user_id", "id"),
    )
    notifications = sa.Table(
        "notifications",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        user_fk(),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("paper_id", sa.String(64)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("read_at", sa.DateTime),
        sa.UniqueConstraint("user_id", "key", name="uq_notifications_key"),
        sa.Index("ix_notifications_unread", "user_id", "read_at"),
    )
    feed_keys = sa.Table(
        "follow_feed_keys",
        m,
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    return [follows, matches, notifications, feed_keys]


def _search_target(query: str, filters: dict[str, Any]) -> str:
    cats = " ".join(f"cat:{c}" for c in filters.get("categories") or [])
    return " ".join(p for p in (query.strip(), cats) if p)[:400]


def upgrade(conn: Connection, dialect: str) -> None:
    """Create the follow tables and turn members' digest saved searches into search follows."""
    m = sa.MetaData()
    tables = _tables(m)
    m.create_all(conn, tables=tables)
    follows = tables[0]
    subs = sa.Table(
        "subscriptions",
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer),
        sa.Column("searches", sa.JSON),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = conn.execute(
        sa.select(subs.c.id, subs.c.user_id, subs.c.searches).where(subs.c.user_id.isnot(None))
    ).all()
    for sub_id, user_id, searches in rows:
        if isinstance(searches, str):
            searches = json.loads(searches or "[]")
        seen: set[str] = set()
        for s in searches or []:
            query = str(s.get("query") or "")
            filters = s.get("filters") or {}
            target = _search_target(query, filters)
            if not target or target.lower() in seen:
                continue
            seen.add(target.lower())
            conn.execute(
                follows.insert().values(
                    user_id=user_id,
                    kind="search",
                    target=target,
                    label=target,
                    data={"query": target, "mode": "keywords"},
                    created_at=now,
                )
            )
        # The member's searches now live as follows; the digest reads them from there.
        conn.execute(subs.update().where(subs.c.id == sub_id).values(searches=[]))
    if rows:
        # Matching starts with the papers stored after this migration, as for a first follow.
        conn.execute(
            sa.text(
                "INSERT INTO counters (name, value) "
                "SELECT 'follows_rev', COALESCE(MAX(rev), 0) FROM papers"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO counters (name, value) "
                "SELECT 'follows_vector_rev', COALESCE(MAX(rev), 0) FROM paper_vectors"
            )
        )

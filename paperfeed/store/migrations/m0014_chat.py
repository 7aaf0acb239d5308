"""Chat push: a member's Apprise channels and the chat outbox, one row per alert per channel."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create chat_channels and chat_outbox (claimed under a lease, like mail_queue)."""
    m = sa.MetaData()
    sa.Table("users", m, sa.Column("id", sa.Integer, primary_key=True))
    channels = sa.Table(
        "chat_channels",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("url", sa.Text, nullable=False),  # the Apprise URL, secrets included
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text),  # why the last alert was given up, shown to the member
        sa.Column("last_error_at", sa.DateTime),
        sa.Index("ix_chat_channels_user", "user_id"),
    )
    outbox = sa.Table(
        "chat_outbox",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "channel_id",
            sa.Integer,
            sa.ForeignKey("chat_channels.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("claim_token", sa.String(32)),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("channel_id", "dedupe_key", name="uq_chat_outbox_key"),
        sa.Index("ix_chat_outbox_due", "state", "next_attempt_at"),
        sa.Index("ix_chat_outbox_user", "user_id"),
    )
    m.create_all(conn, tables=[channels, outbox])

"""Digests: email subscriptions, the papers each subscriber was sent, and the outbox."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create subscriptions, sent_items and outbox as they were in the first digest release."""
    m = sa.MetaData()
    sa.Table("papers", m, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table("users", m, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "subscriptions",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("sections", sa.JSON, nullable=False),
        sa.Column("searches", sa.JSON, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("confirm_token_hash", sa.String(64)),
        sa.Column("confirm_sent_at", sa.DateTime),
        sa.Column("unsubscribe_token", sa.String(64), nullable=False),
        sa.Column("bounce_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_bounce_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("confirmed_at", sa.DateTime),
        sa.Column("unsubscribed_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("email_key", name="uq_subscriptions_email_key"),
        sa.UniqueConstraint("unsubscribe_token", name="uq_subscriptions_unsubscribe_token"),
        sa.Index("ix_subscriptions_status", "status"),
        sa.Index("ix_subscriptions_user_id", "user_id"),
        sa.Index("ix_subscriptions_confirm", "confirm_token_hash"),
    )
    sa.Table(
        "sent_items",
        m,
        sa.Column(
            "subscription_id",
            sa.Integer,
            sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("outbox_id", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "outbox",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "subscription_id",
            sa.Integer,
            sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("to_addr", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("items", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("subscription_id", "period", name="uq_outbox_subscription_period"),
        sa.UniqueConstraint("token", name="uq_outbox_token"),
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
    )
    m.create_all(conn)

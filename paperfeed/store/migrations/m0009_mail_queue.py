"""The account-mail queue: rendered messages sent off the request path, claimed under a lease."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Create mail_queue: one row per message, pending until a sender claims and delivers it."""
    m = sa.MetaData()
    table = sa.Table(
        "mail_queue",
        m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("to_addr", sa.String(320), nullable=False),
        sa.Column("to_key", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("claim_token", sa.String(32)),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Index("ix_mail_queue_due", "status", "next_attempt_at"),
        sa.Index("ix_mail_queue_to_key", "to_key"),
    )
    m.create_all(conn, tables=[table])

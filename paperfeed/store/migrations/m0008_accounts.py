"""Accounts: drop what an unverified sign-up could have planted before addresses were proven."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upgrade(conn: Connection, dialect: str) -> None:
    """Clear passwords of unverified accounts and end sessions begun before verification."""
    m = sa.MetaData()
    users = sa.Table(
        "users",
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("password_hash", sa.Text),
        sa.Column("email_verified_at", sa.DateTime),
    )
    sessions = sa.Table(
        "sessions",
        m,
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer),
        sa.Column("created_at", sa.DateTime),
    )
    # Before m0008 anyone could sign up with another person's address and a password, and sign
    # in at once; such passwords and sessions never proved the mailbox, so they go.
    conn.execute(
        sa.update(users).where(users.c.email_verified_at.is_(None)).values(password_hash=None)
    )
    unproven = (
        sa.select(users.c.id)
        .where(
            users.c.id == sessions.c.user_id,
            sa.or_(
                users.c.email_verified_at.is_(None),
                sessions.c.created_at < users.c.email_verified_at,
            ),
        )
        .exists()
    )
    conn.execute(sa.delete(sessions).where(unproven))

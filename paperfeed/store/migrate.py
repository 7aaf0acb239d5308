"""Ordered schema migrations: each module in store/migrations runs once, in name order."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime

import sqlalchemy as sa

from paperfeed.store.db import Database

_MIGRATIONS_PKG = "paperfeed.store.migrations"
_LOCK_KEY = 7_351_998_001  # PostgreSQL advisory lock id: one migrator at a time across processes

_meta = sa.MetaData()
schema_migrations = sa.Table(
    "schema_migrations",
    _meta,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)


def available() -> list[str]:
    """Names of all migration modules, in the order they apply."""
    pkg = importlib.import_module(_MIGRATIONS_PKG)
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("m"))


def applied(db: Database) -> list[str]:
    """Names of migrations already applied to this database."""
    with db.read() as conn:
        if not sa.inspect(conn).has_table("schema_migrations"):
            return []
        return [r[0] for r in conn.execute(sa.select(schema_migrations.c.name).order_by("name"))]


def upgrade(db: Database) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the names applied."""
    done: list[str] = []
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        _meta.create_all(conn, checkfirst=True)
        have = {r[0] for r in conn.execute(sa.select(schema_migrations.c.name))}
        for name in available():
            if name in have:
                continue
            module = importlib.import_module(f"{_MIGRATIONS_PKG}.{name}")
            module.upgrade(conn, db.dialect)
            conn.execute(
                schema_migrations.insert().values(
                    name=name, applied_at=datetime.now(UTC).replace(tzinfo=None)
                )
            )
            done.append(name)
    return done


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open a database and bring its schema up to date."""
    db = Database(url)
    if migrate:
        upgrade(db)
    return db

"""The engine and read/write transactions for SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from paperfeed.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 15_000  # writers queue behind BEGIN IMMEDIATE; 15 s rides out long imports
# psycopg prepares a statement on the server after 5 runs, and PostgreSQL then keeps one generic
# plan for it, made for the table as it was. On a store that starts empty that plan is a
# sequential scan, and it stays one as the table grows: importing 60,000 papers into a fresh
# database took 109.5 s instead of 39.4 s (bench/pg_plans.py). None plans every statement anew.
PG_PREPARE_THRESHOLD: int | None = None


def normalize_url(url: str) -> str:
    """Map postgres:// and postgresql:// URLs to the psycopg 3 driver SQLAlchemy needs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """A database handle: `read()` and `write()` give connections inside one transaction."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        if self.url.startswith("sqlite"):
            self.dialect = "sqlite"
        elif self.url.startswith("postgresql"):
            self.dialect = "postgresql"
        else:
            raise ConfigError(
                f"unsupported database URL {url!r}: use sqlite:///path.db or postgresql://user@host/db"
            )
        self._echo = echo
        self._engine: Engine | None = None
        self._pid = os.getpid()

    @property
    def engine(self) -> Engine:
        """The engine, created lazily and anew after a fork so no connection crosses processes."""
        if self._engine is None or self._pid != os.getpid():
            if self._engine is not None:
                self._engine.dispose(close=False)
            self._engine = self._create_engine()
            self._pid = os.getpid()
        return self._engine

    def _create_engine(self) -> Engine:
        if self.dialect == "sqlite":
            path = self.url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(
                self.url,
                echo=self._echo,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            _configure_sqlite(engine)
            return engine
        return sa.create_engine(
            self.url,
            echo=self._echo,
            pool_pre_ping=True,
            pool_size=10,
            connect_args={"prepare_threshold": PG_PREPARE_THRESHOLD},
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction (BEGIN IMMEDIATE on SQLite: one writer at a time)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(paperfeed_write=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        """Close pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL and in-memory databases."""
        if self.dialect != "sqlite":
            return None
        path = self.url.removeprefix("sqlite:///")
        return None if path in ("", ":memory:") else Path(path)


def insert_for(conn: Connection, table: sa.Table) -> Any:
    """The connection's dialect's INSERT construct, which supports ON CONFLICT."""
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE is ours to emit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses no committed data
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("paperfeed_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

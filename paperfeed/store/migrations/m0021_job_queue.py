"""The PostgreSQL job queue: procrastinate's own schema and the errors of failed attempts (no-op on SQLite)."""

from __future__ import annotations

from importlib import resources

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.errors import MissingExtra


def upgrade(conn: Connection, dialect: str) -> None:
    """Create procrastinate's tables, types and functions, and queue_errors, on PostgreSQL."""
    if dialect != "postgresql":
        return  # the queue needs PostgreSQL; SQLite keeps the in-process scheduler
    if not sa.inspect(conn).has_table("procrastinate_jobs"):
        # The schema of the installed procrastinate (pinned to 3.10.x in pyproject.toml): its
        # next minor release ships delta files under procrastinate/sql/migrations that a later
        # migration of ours applies.
        try:
            schema = (resources.files("procrastinate.sql") / "schema.sql").read_text("utf-8")
        except ModuleNotFoundError:
            # Failing beats recording this migration as applied without the queue's tables.
            raise MissingExtra(
                "migration m0021 needs procrastinate's schema: `pip install paperfeed` (or "
                "`pip install 'procrastinate>=3.10,<3.11'`), then migrate again"
            ) from None
        _drop_leftovers(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(schema)  # no parameters: many statements, '%' taken literally
        finally:
            cursor.close()
    m = sa.MetaData()
    errors = sa.Table(
        "queue_errors",
        m,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("job_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),  # 0 for the first run
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
    )
    m.create_all(conn, tables=[errors])


def _drop_leftovers(conn: Connection) -> None:
    """Drop procrastinate functions and types left without their tables in this schema.

    A restore of a backup taken before this migration drops the tables it did not hold but not
    these, and schema.sql's CREATE TYPE/FUNCTION would then fail.
    """
    funcs = conn.execute(
        sa.text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = current_schema() "
            "AND p.proname LIKE 'procrastinate%'"
        )
    ).scalars()
    for signature in list(funcs):
        conn.execute(sa.text(f"DROP FUNCTION IF EXISTS {signature} CASCADE"))
    types = conn.execute(
        sa.text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%' "
            "AND (t.typtype = 'e' OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))"
        )
    ).scalars()
    for name in list(types):
        conn.execute(sa.text(f'DROP TYPE IF EXISTS "{name}" CASCADE'))

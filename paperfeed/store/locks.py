"""Named job locks across processes: PostgreSQL advisory locks, or a lease row on SQLite."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.store.db import Database
from paperfeed.store.schema import job_locks


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobLock:
    """A held lock; `renew()` extends a SQLite lease during long jobs (PostgreSQL needs none)."""

    def __init__(self, db: Database, name: str, lease: float, conn: Connection | None) -> None:
        self.db = db
        self.name = name
        self.lease = lease
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self._conn = conn  # PostgreSQL: the session that holds the advisory lock

    def renew(self) -> None:
        """Push the lease end forward (SQLite only)."""
        if self._conn is not None:
            return
        with self.db.write() as conn:
            conn.execute(
                sa.update(job_locks)
                .where(job_locks.c.name == self.name, job_locks.c.owner == self.owner)
                .values(expires_at=_now() + timedelta(seconds=self.lease))
            )


def _pg_key_sql() -> str:
    # The schema is part of the key so databases in separate schemas of one server don't collide.
    return "hashtextextended(current_schema() || ':' || :name, 0)"


def _try_pg(db: Database, lock: JobLock) -> bool:
    conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        got = conn.execute(
            sa.text(f"SELECT pg_try_advisory_lock({_pg_key_sql()})"), {"name": lock.name}
        ).scalar_one()
    except Exception:
        conn.close()
        raise
    if not got:
        conn.close()
        return False
    lock._conn = conn
    return True


def _release_pg(lock: JobLock) -> None:
    conn = lock._conn
    if conn is None:
        return
    try:
        conn.execute(sa.text(f"SELECT pg_advisory_unlock({_pg_key_sql()})"), {"name": lock.name})
    except Exception:
        # A session-level lock must not go back to the pool still held: drop the connection.
        conn.invalidate()
        raise
    finally:
        conn.close()


def _try_sqlite(db: Database, lock: JobLock) -> bool:
    host = socket.gethostname()
    now = _now()
    row_values = {
        "owner": lock.owner,
        "host": host,
        "pid": os.getpid(),
        "acquired_at": now,
        "expires_at": now + timedelta(seconds=lock.lease),
    }
    with db.write() as conn:
        row = conn.execute(sa.select(job_locks).where(job_locks.c.name == lock.name)).first()
        if row is None:
            conn.execute(job_locks.insert().values(name=lock.name, **row_values))
            return True
        # A lease ends when it expires, or at once when its holder on this machine has died.
        free = row.expires_at <= now or (row.host == host and not _pid_alive(row.pid))
        if not free:
            return False
        conn.execute(
            sa.update(job_locks)
            .where(job_locks.c.name == lock.name, job_locks.c.owner == row.owner)
            .values(**row_values)
        )
        return True


def _release_sqlite(lock: JobLock) -> None:
    with lock.db.write() as conn:
        conn.execute(
            sa.delete(job_locks).where(
                job_locks.c.name == lock.name, job_locks.c.owner == lock.owner
            )
        )


def try_lock(db: Database, name: str, *, lease: float = 900.0) -> JobLock | None:
    """Take the named lock without waiting; None when another process or thread holds it."""
    lock = JobLock(db, name, lease, None)
    got = _try_pg(db, lock) if db.dialect == "postgresql" else _try_sqlite(db, lock)
    return lock if got else None


def release(lock: JobLock) -> None:
    """Give a lock back."""
    if lock.db.dialect == "postgresql":
        _release_pg(lock)
    else:
        _release_sqlite(lock)


@contextmanager
def job_lock(db: Database, name: str, *, lease: float = 900.0) -> Iterator[JobLock | None]:
    """Hold the named lock for the block; yields None (and runs nothing held) when it is busy."""
    lock = try_lock(db, name, lease=lease)
    try:
        yield lock
    finally:
        if lock is not None:
            release(lock)


def holders(db: Database) -> list[tuple[str, str, datetime]]:
    """SQLite lease rows (name, owner, expiry), for the status view."""
    with db.read() as conn:
        q = sa.select(job_locks.c.name, job_locks.c.owner, job_locks.c.expires_at)
        return [(r.name, r.owner, r.expires_at) for r in conn.execute(q)]

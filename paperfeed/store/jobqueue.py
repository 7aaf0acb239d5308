"""What the PostgreSQL job queue holds (procrastinate's tables), and the errors of failed attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_m = sa.MetaData()
queue_errors = sa.Table(
    "queue_errors",
    _m,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("job_id", sa.BigInteger, nullable=False),
    sa.Column("task", sa.String(255), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)
# procrastinate's own table (created by migration m0021), only the columns read here.
jobs = sa.Table(
    "procrastinate_jobs",
    _m,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("task_name", sa.String(128)),
    sa.Column("status", sa.String(32)),
    sa.Column("args", sa.JSON),
    sa.Column("scheduled_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer),
)

MESSAGE_MAX = 2000  # characters of an error kept: the first lines say what went wrong


@dataclass(frozen=True, slots=True)
class QueueFailure:
    """One failed attempt of a queued job, and what became of the job since."""

    job_id: int
    task: str
    attempt: int
    message: str
    at: datetime
    status: str | None  # todo: a retry is waiting; failed: no retry left; None: job removed
    retry_at: datetime | None


def has_queue(conn: Connection) -> bool:
    """True when this database holds the job queue (PostgreSQL after migration m0021)."""
    return conn.dialect.name == "postgresql" and sa.inspect(conn).has_table("procrastinate_jobs")


def depth(conn: Connection) -> dict[str, dict[str, int]]:
    """Jobs per task and status (todo, doing, succeeded, failed...)."""
    q = sa.select(jobs.c.task_name, sa.cast(jobs.c.status, sa.String), sa.func.count()).group_by(
        jobs.c.task_name, jobs.c.status
    )
    out: dict[str, dict[str, int]] = {}
    for task, status, n in conn.execute(q):
        out.setdefault(task, {})[status] = int(n)
    return dict(sorted(out.items()))


def pending(conn: Connection, task: str, job: str) -> int:
    """Jobs of a task for one paperfeed job (the args' 'job') still queued or running."""
    q = (
        sa.select(sa.func.count())
        .select_from(jobs)
        .where(
            jobs.c.task_name == task,
            sa.cast(jobs.c.status, sa.String).in_(["todo", "doing"]),
            jobs.c.args["job"].as_string() == job,
        )
    )
    return int(conn.execute(q).scalar_one())


def record_error(conn: Connection, job_id: int, task: str, attempt: int, message: str) -> None:
    """Keep the error of one failed attempt for the status page."""
    conn.execute(
        queue_errors.insert().values(
            job_id=job_id,
            task=task,
            attempt=attempt,
            message=message[:MESSAGE_MAX],
            at=datetime.now(UTC).replace(tzinfo=None),
        )
    )


def recent_failures(conn: Connection, *, limit: int = 20) -> list[QueueFailure]:
    """The latest failed attempts, newest first, with their job's status now."""
    j = queue_errors.outerjoin(jobs, jobs.c.id == queue_errors.c.job_id)
    q = (
        sa.select(
            queue_errors,
            sa.cast(jobs.c.status, sa.String).label("status"),
            jobs.c.scheduled_at,
        )
        .select_from(j)
        .order_by(queue_errors.c.id.desc())
        .limit(limit)
    )
    out = []
    for r in conn.execute(q):
        retry_at = r.scheduled_at if r.status == "todo" else None
        if retry_at is not None and retry_at.tzinfo is not None:
            retry_at = retry_at.astimezone(UTC).replace(tzinfo=None)
        out.append(QueueFailure(r.job_id, r.task, r.attempt, r.message, r.at, r.status, retry_at))
    return out


def prune_errors(conn: Connection, before: datetime) -> int:
    """Drop errors recorded before a time; returns how many."""
    return conn.execute(sa.delete(queue_errors).where(queue_errors.c.at < before)).rowcount

"""The PostgreSQL job queue (procrastinate): every registered job as a task any number of workers share."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, PaperfeedError
from paperfeed.store import Database
from paperfeed.store import jobqueue as store_queue
from paperfeed.store.locks import job_lock
from paperfeed.worker import JOBS, Job, get_job, parse_schedule

log = logging.getLogger(__name__)

TASK_PREFIX = "paperfeed."
PART_TASK = "paperfeed.part"  # one share of a job that plans parts (the embedding backlog)
STALLED_TASK = "paperfeed.retry_stalled"
PRUNE_TASK = "paperfeed.prune"
KEEP_HOURS = 7 * 24  # succeeded jobs and recorded errors stay a week for the status page
RETRY_WAIT_MAX = 86_400.0  # seconds: the doubling backoff stops growing at a day
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def require_postgres(settings: Settings) -> None:
    """ConfigError unless the database is PostgreSQL (the queue lives in it)."""
    if not settings.database_url.startswith(("postgresql", "postgres:")):
        raise ConfigError(
            "PAPERFEED_JOB_QUEUE=postgres needs a PostgreSQL database (the queue lives in it): "
            "set PAPERFEED_DATABASE_URL=postgresql://user@host/db, or PAPERFEED_JOB_QUEUE=local "
            f"for the in-process scheduler (the database now is {settings.database_url!r})"
        )


def conninfo(database_url: str) -> str:
    """The libpq URL of the database (no SQLAlchemy driver name), query options kept."""
    url = sa.engine.make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def queue_cron(text: str) -> str | None:
    """A schedule setting as the cron expression the queue's periodic deferrer uses (None: off).

    Every worker must agree on when a period starts, so intervals are aligned to the clock:
    '10m' is minutes 0, 10, 20..., which needs an interval that divides a minute, hour or day.
    """
    text = (text or "").strip()
    if parse_schedule(text) is None:  # validates both forms, with the usual messages
        return None
    m = re.fullmatch(r"(?:every\s+)?(\d+)\s*([smhd])", text, re.IGNORECASE)
    if m is None:
        return text  # 5-field cron, UTC; croniter counts weekdays as cron does (0 and 7 Sunday)
    seconds = int(m.group(1)) * _UNITS[m.group(2).lower()]
    if seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"
    if seconds % 60 == 0 and seconds < 3600 and 60 % (seconds // 60) == 0:
        return f"*/{seconds // 60} * * * *"
    if seconds % 3600 == 0 and seconds < 86400 and 24 % (seconds // 3600) == 0:
        return f"0 */{seconds // 3600} * * *"
    if seconds == 86400:
        return "0 0 * * *"
    raise ConfigError(
        f"schedule {text!r}: with PAPERFEED_JOB_QUEUE=postgres an interval must divide a minute, "
        "an hour or a day (e.g. 30s, 10m, 2h, 1d) so every worker starts periods at the same "
        "time; or write a cron expression such as '*/45 * * * *'"
    )


def stalled_cron(stalled_after: float) -> str:
    """How often dead workers' jobs are looked for: every half of the stalled timeout."""
    half = max(1, int(stalled_after / 2))
    if half < 60:
        return f"* * * * * */{half}"
    return f"*/{min(59, max(1, half // 60))} * * * *"


def retry_wait(settings: Settings, attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones (doubling, at most a day)."""
    return float(min(RETRY_WAIT_MAX, settings.queue_retry_wait * 2**attempts))


def _backoff(settings: Settings) -> Any:
    import procrastinate

    class Backoff(procrastinate.BaseRetryStrategy):
        """Retry a failed job `queue_retries` times, waiting twice as long each time."""

        def get_retry_decision(
            self, *, exception: BaseException, job: Any
        ) -> procrastinate.RetryDecision | None:
            if job.attempts >= settings.queue_retries:
                return None
            wait = timedelta(seconds=retry_wait(settings, job.attempts))
            return procrastinate.RetryDecision(retry_at=datetime.now(UTC) + wait)

    return Backoff()


def _failed(db: Database, context: Any, task: str, exc: BaseException) -> None:
    """Log a failed attempt and keep its error for /admin/status."""
    if isinstance(exc, PaperfeedError):
        log.error("queued job %s (attempt %d) failed: %s", task, context.job.attempts + 1, exc)
    else:
        log.exception("queued job %s (attempt %d) failed", task, context.job.attempts + 1)
    try:
        with db.write() as conn:
            store_queue.record_error(
                conn, int(context.job.id), task, int(context.job.attempts), f"{exc}"[:2000]
            )
    except Exception:
        log.exception("could not record the error of job %s", context.job.id)


def run_queued(settings: Settings, db: Database, job: Job, context: Any) -> str:
    """Run one registered job from the queue, after queueing its parts: 'ran' or 'busy'."""
    # The job lock also keeps `paperfeed worker --once` and the queue from overlapping.
    with job_lock(db, f"job:{job.name}", lease=settings.job_lock_lease) as lock:
        if lock is None:
            log.info("job %s is already running elsewhere; skipped", job.name)
            return "busy"
        try:
            if job.plan is not None:
                _queue_parts(settings, db, job, context.app)
            job.run(settings, db)
        except Exception as exc:
            _failed(db, context, f"{TASK_PREFIX}{job.name}", exc)
            raise
    return "ran"


def _queue_parts(settings: Settings, db: Database, job: Job, app: Any) -> None:
    with db.read() as conn:
        waiting = store_queue.pending(conn, PART_TASK, job.name)
    if waiting:
        # Planning again now would hand out ranges that overlap those still queued or running.
        log.info("%s: %d part(s) still queued or running; none added", job.name, waiting)
        return
    assert job.plan is not None
    parts = job.plan(settings, db)
    if parts:
        app.configure_task(PART_TASK).batch_defer(*[{"job": job.name, "part": p} for p in parts])
        log.info("%s: queued %d part(s)", job.name, len(parts))


def build_app(settings: Settings, db: Database) -> Any:
    """The procrastinate app with a task per registered job, periodic per its schedule setting."""
    require_postgres(settings)
    try:
        import procrastinate
    except ImportError:
        raise ConfigError(
            "PAPERFEED_JOB_QUEUE=postgres needs procrastinate: `pip install paperfeed` installs it"
        ) from None
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(settings.database_url),
        min_size=1,
        # Jobs, plus the listener, heartbeat, job fetcher, periodic deferrer and abort poller.
        max_size=max(1, settings.queue_concurrency) + 5,
    )
    app = procrastinate.App(connector=connector)
    retry = _backoff(settings)
    for job in JOBS.values():
        _add_job_task(app, settings, db, job, retry)

    @app.task(name=PART_TASK, pass_context=True, retry=retry)
    def part(context: Any, job: str, part: dict[str, Any]) -> None:
        owner = get_job(job)
        assert owner.run_part is not None, f"job {job} has no parts"
        try:
            owner.run_part(settings, db, part)
        except Exception as exc:
            _failed(db, context, PART_TASK, exc)
            raise

    @app.periodic(cron=stalled_cron(settings.queue_stalled_after))
    @app.task(name=STALLED_TASK, queueing_lock=STALLED_TASK)
    async def retry_stalled(timestamp: int) -> None:
        manager = app.job_manager
        for stalled in await manager.get_stalled_jobs(
            seconds_since_heartbeat=settings.queue_stalled_after
        ):
            log.warning(
                "job %s (%s) ran on a worker silent for %.0f s: queued again",
                stalled.id,
                stalled.task_name,
                settings.queue_stalled_after,
            )
            await manager.retry_job(stalled)

    @app.periodic(cron="17 * * * *")
    @app.task(name=PRUNE_TASK, queueing_lock=PRUNE_TASK)
    async def prune(timestamp: int) -> None:
        await app.job_manager.delete_old_jobs(nb_hours=KEEP_HOURS)
        before = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=KEEP_HOURS)

        def drop() -> None:
            with db.write() as conn:
                store_queue.prune_errors(conn, before)

        await asyncio.to_thread(drop)

    return app


def _add_job_task(app: Any, settings: Settings, db: Database, job: Job, retry: Any) -> None:
    name = f"{TASK_PREFIX}{job.name}"

    # lock: a job never runs twice at once; queueing_lock: at most one run waits behind it.
    @app.task(name=name, pass_context=True, retry=retry, lock=job.name, queueing_lock=job.name)
    def task(context: Any, timestamp: int | None = None) -> str:
        return run_queued(settings, db, job, context)

    try:
        cron = queue_cron(str(getattr(settings, job.schedule_setting, "") or ""))
    except ConfigError as exc:
        raise ConfigError(f"PAPERFEED_{job.schedule_setting.upper()}: {exc}") from None
    if cron is not None:
        app.periodic(cron=cron)(task)


def defer(settings: Settings, db: Database, name: str) -> int | None:
    """Queue one run of a job now; returns its id, or None when a run is already waiting."""
    import procrastinate

    get_job(name)
    app = build_app(settings, db)
    with app.open():
        try:
            return int(app.configure_task(f"{TASK_PREFIX}{name}", queueing_lock=name).defer())
        except procrastinate.exceptions.AlreadyEnqueued:
            return None


def defer_parts(settings: Settings, db: Database, name: str) -> None:
    """Queue a job's parts only (e.g. the embedding backlog, without the rest of `index`)."""
    job = get_job(name)
    if job.plan is None:
        raise ConfigError(f"job {name!r} has no parts; jobs with parts: {_with_parts()}")
    app = build_app(settings, db)
    with app.open():
        _queue_parts(settings, db, job, app)


def _with_parts() -> str:
    return ", ".join(sorted(n for n, j in JOBS.items() if j.plan is not None))


def run_queue_worker(settings: Settings, db: Database) -> None:
    """Run a procrastinate worker until SIGTERM or Ctrl-C (`paperfeed worker` with job_queue=postgres)."""
    app = build_app(settings, db)
    with db.read() as conn:
        if not store_queue.has_queue(conn):
            raise ConfigError("the job queue's tables are missing: run `paperfeed migrate`")
    for (task_name, _), periodic in sorted(app.periodic_registry.periodic_tasks.items()):
        log.info("scheduled %s: %s (UTC)", task_name.removeprefix(TASK_PREFIX), periodic.cron)
    name = f"{socket.gethostname()}:{os.getpid()}"
    log.info(
        "worker %s: queue in PostgreSQL, %d job(s) at once, stalled after %.0f s",
        name,
        settings.queue_concurrency,
        settings.queue_stalled_after,
    )
    app.run_worker(
        name=name,
        concurrency=max(1, settings.queue_concurrency),
        fetch_job_polling_interval=settings.queue_poll,
        update_heartbeat_interval=settings.queue_heartbeat,
        stalled_worker_timeout=settings.queue_stalled_after,
        delete_jobs="never",  # kept for the status page; the prune task removes old ones
    )

"""The worker: schedules from settings, the job registry, and job locks across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from _harvest_helpers import (  # noqa: F401 (fixtures)
    HF_DIR,
    Reply,
    Upstream,
    no_outside_network_fixture,
    settings_env,
    settings_for,
    upstream_fixture,
)
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.store import Database
from paperfeed.store.locks import job_lock, release, try_lock
from paperfeed.store.papers import count_papers
from paperfeed.worker import (
    JOBS,
    parse_schedule,
    register_job,
    run_job,
    scheduled_jobs,
    start_scheduler,
)

pytestmark = pytest.mark.usefixtures("no_outside_network")


def test_cron_and_interval_schedules() -> None:
    cron = parse_schedule("0 6 * * 1-5")
    assert isinstance(cron, CronTrigger)
    monday_5am = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert cron.get_next_fire_time(None, monday_5am) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    saturday = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert cron.get_next_fire_time(None, saturday) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    for sunday in ("0 6 * * 0", "0 6 * * 7", "0 6 * * sun"):
        trig = parse_schedule(sunday)
        assert trig is not None
        assert trig.get_next_fire_time(None, saturday) == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    every = parse_schedule("every 6h")
    assert isinstance(every, IntervalTrigger) and every.interval == timedelta(hours=6)
    every = parse_schedule("30m")
    assert isinstance(every, IntervalTrigger) and every.interval == timedelta(minutes=30)
    assert parse_schedule("") is None and parse_schedule("  ") is None


@pytest.mark.parametrize("bad", ["daily", "0 6 * *", "61 * * * *", "0s"])
def test_bad_schedules_name_the_fix(bad: str) -> None:
    with pytest.raises(ConfigError, match="schedule"):
        parse_schedule(bad)


def test_jobs_follow_their_schedule_settings() -> None:
    settings = Settings(schedule_harvest_arxiv="0 6 * * 1-5", schedule_harvest_hf="")
    names = [job.name for job, _ in scheduled_jobs(settings)]
    assert "harvest_arxiv" in names and "harvest_hf" not in names
    with pytest.raises(ConfigError, match="PAPERFEED_SCHEDULE_HARVEST_HF: schedule 'daily'"):
        scheduled_jobs(settings.with_(schedule_harvest_hf="daily"))


def test_start_scheduler_runs_the_scheduled_jobs_in_process(sqlite_db: Database) -> None:
    settings = Settings(
        database_url=sqlite_db.url, schedule_harvest_arxiv="0 6 * * 1-5", schedule_harvest_hf="2h"
    )
    scheduler = start_scheduler(settings, sqlite_db)
    try:
        assert scheduler.running
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert set(jobs) >= {"harvest_arxiv", "harvest_hf"}
        assert jobs["harvest_arxiv"].next_run_time.hour == 6
        assert jobs["harvest_arxiv"].max_instances == 1
    finally:
        scheduler.shutdown(wait=False)


def test_serve_runs_the_scheduler_only_when_asked(sqlite_db: Database) -> None:
    from paperfeed.worker import maybe_start_scheduler

    off = Settings(database_url=sqlite_db.url)
    assert maybe_start_scheduler(off, sqlite_db) is None
    scheduler = maybe_start_scheduler(off.with_(serve_scheduler=True), sqlite_db)
    assert scheduler is not None
    try:
        assert scheduler.running and scheduler.get_job("harvest_arxiv") is not None
    finally:
        scheduler.shutdown(wait=False)


@pytest.fixture
def blocking_job() -> Iterator[tuple[threading.Event, threading.Event]]:
    started, release_ = threading.Event(), threading.Event()

    def run(settings: Settings, db: Database) -> None:
        started.set()
        release_.wait(30)

    register_job("test_block", run, schedule_setting="no_such_setting", help="test")
    yield started, release_
    release_.set()
    JOBS.pop("test_block", None)


def test_a_job_never_runs_twice_at_once(
    db: Database, blocking_job: tuple[threading.Event, threading.Event]
) -> None:
    started, release_ = blocking_job
    settings = Settings(database_url=db.url)
    outcome: list[str] = []
    first = threading.Thread(target=lambda: outcome.append(run_job(settings, db, "test_block")))
    first.start()
    assert started.wait(30)
    # A second worker (here a second database session) finds the job running and skips it.
    other = Database(db.url)
    try:
        assert run_job(settings, other, "test_block") == "busy"
        release_.set()
        first.join(30)
        assert outcome == ["ran"]
        started.clear()
        release_.set()
        assert run_job(settings, other, "test_block") == "ran"
    finally:
        other.dispose()


def test_lock_contract(db: Database) -> None:
    a = try_lock(db, "job:x")
    assert a is not None
    other = Database(db.url)
    try:
        assert try_lock(other, "job:x") is None
        b = try_lock(other, "job:y")
        assert b is not None
        release(b)
        release(a)
        c = try_lock(other, "job:x")
        assert c is not None
        release(c)
        with job_lock(db, "job:x") as held:
            assert held is not None
            assert try_lock(other, "job:x") is None
        with job_lock(other, "job:x") as again:
            assert again is not None
    finally:
        other.dispose()


def test_sqlite_lease_of_a_dead_process_is_taken_over(sqlite_db: Database) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(proc.stdout)
    lock = try_lock(sqlite_db, "job:z")
    assert lock is not None
    with sqlite_db.write() as conn:
        conn.execute(sa.text("UPDATE job_locks SET pid = :p WHERE name = 'job:z'"), {"p": dead_pid})
    taken = try_lock(sqlite_db, "job:z")
    assert taken is not None
    release(taken)


def test_sqlite_lease_of_another_host_waits_for_expiry(sqlite_db: Database) -> None:
    lock = try_lock(sqlite_db, "job:h", lease=600)
    assert lock is not None
    with sqlite_db.write() as conn:
        conn.execute(
            sa.text("UPDATE job_locks SET host = 'elsewhere', pid = 1 WHERE name = 'job:h'")
        )
    assert try_lock(sqlite_db, "job:h") is None
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    with sqlite_db.write() as conn:
        conn.execute(
            sa.text("UPDATE job_locks SET expires_at = :t WHERE name = 'job:h'"), {"t": past}
        )
    taken = try_lock(sqlite_db, "job:h")
    assert taken is not None
    release(taken)


def test_worker_once_runs_a_job(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.script([Reply((HF_DIR / "2024-05-29.json").read_bytes())])
    env = settings_env(settings_for(upstream, sqlite_db.url))
    env["PAPERFEED_HARVEST_BACKFILL_DAYS"] = "0"
    result = CliRunner().invoke(
        main, ["worker", "--once", "harvest_hf"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "harvest_hf: ran" in result.stdout
    with sqlite_db.read() as conn:
        assert count_papers(conn) == 8
    listing = CliRunner().invoke(main, ["worker", "--list"], env=env)
    assert (
        "harvest_arxiv" in listing.stdout and "PAPERFEED_SCHEDULE_HARVEST_ARXIV" in listing.stdout
    )
    unknown = CliRunner().invoke(main, ["worker", "--once", "nope"], env=env)
    assert unknown.exit_code == 2 and "valid jobs are" in unknown.output


def test_worker_process_starts_and_stops(sqlite_db: Database, tmp_path: object) -> None:
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": sqlite_db.url,
        "PAPERFEED_SCHEDULE_HARVEST_ARXIV": "0 6 * * 1-5",
        "PAPERFEED_SCHEDULE_HARVEST_HF": "",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        line = ""
        for line in proc.stderr:
            if "scheduled harvest_arxiv" in line:
                break
        assert "scheduled harvest_arxiv" in line
    finally:
        proc.terminate()
        proc.wait(30)

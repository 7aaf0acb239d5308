"""The PostgreSQL job queue: real `paperfeed worker` processes share a backlog, survive SIGKILL,
run periodic jobs once per period and retry failures with backoff; embedder settings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import ROOT

from paperfeed.cli import main
from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.models import Paper
from paperfeed.search import embed
from paperfeed.search.embed import HashEmbedder, execution_providers
from paperfeed.search.sync import embed_missing
from paperfeed.store import Database, open_database
from paperfeed.store import jobqueue as queue_store
from paperfeed.store.papers import upsert_papers
from paperfeed.store.vectors import count_to_embed, count_vectors, embed_ranges

TESTS = Path(__file__).resolve().parent
SCHEDULES = [
    "index",
    "digests",
    "mail",
    "harvest_arxiv",
    "harvest_hf",
    "harvest_biorxiv",
    "rank",
    "recommend",
    "chat",
    "hub_links",
    "summaries",
    "fulltext",
]
WAIT = 90.0  # seconds any single wait of these tests may last before it fails


def papers(n: int) -> list[Paper]:
    """n papers whose embedded text starts with their own id (the recording embedder logs it)."""
    return [
        Paper(
            id=f"2601.{i:05d}",
            title=f"P2601.{i:05d} sparse attention for graph number {i}",
            abstract=f"We study problem {i} with transformers and kernels.",
            authors=["Ada Lovelace"],
            categories=["cs.LG"],
            published=datetime(2026, 1, 1),
        )
        for i in range(n)
    ]


def wait_until(cond: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll cond until it is truthy; fail naming what never happened."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- without PostgreSQL: settings, the SQLite no-op, embedder providers and batch size ---


def test_schedules_become_clock_aligned_crons() -> None:
    from paperfeed.jobqueue import queue_cron, stalled_cron

    assert queue_cron("") is None
    assert queue_cron("10m") == "*/10 * * * *"
    assert queue_cron("every 6h") == "0 */6 * * *"
    assert queue_cron("2s") == "* * * * * */2"
    assert queue_cron("1d") == "0 0 * * *"
    assert queue_cron("0 6 * * 1-5") == "0 6 * * 1-5"
    with pytest.raises(ConfigError, match="must divide a minute, an hour or a day"):
        queue_cron("7m")
    with pytest.raises(ConfigError, match="neither a 5-field cron"):
        queue_cron("daily")
    assert stalled_cron(60) == "* * * * * */30" and stalled_cron(600) == "*/5 * * * *"
    # Every default schedule works in the queue too.
    from paperfeed.worker import JOBS

    for job in JOBS.values():
        queue_cron(str(getattr(Settings(), job.schedule_setting, "") or ""))


def test_postgres_queue_on_sqlite_says_what_to_set(sqlite_db: Database) -> None:
    env = {"PAPERFEED_DATABASE_URL": sqlite_db.url, "PAPERFEED_JOB_QUEUE": "postgres"}
    result = CliRunner().invoke(main, ["worker"], env=env)
    assert result.exit_code != 0
    assert "needs a PostgreSQL database" in result.output
    assert "PAPERFEED_JOB_QUEUE=local" in result.output
    bad = CliRunner().invoke(main, ["worker"], env={**env, "PAPERFEED_JOB_QUEUE": "redis"})
    assert bad.exit_code != 0 and "use 'local' or 'postgres'" in bad.output
    from paperfeed.worker import maybe_start_scheduler

    # `serve` starts no timer of its own when the queue's workers schedule the jobs.
    queued = Settings(database_url=sqlite_db.url, serve_scheduler=True, job_queue="postgres")
    assert maybe_start_scheduler(queued, sqlite_db) is None
    with sqlite_db.read() as conn:
        # m0021 is a no-op on SQLite: the local scheduler needs no queue tables.
        assert not queue_store.has_queue(conn)
        assert "procrastinate_jobs" not in sa.inspect(conn).get_table_names()


def test_an_unavailable_execution_provider_names_the_available_ones() -> None:
    import onnxruntime as ort

    assert execution_providers(ort, "") == ["CPUExecutionProvider"]
    with pytest.raises(ConfigError) as err:
        execution_providers(ort, "CUDAExecutionProvider,CPUExecutionProvider")
    msg = str(err.value)
    assert "CUDAExecutionProvider" in msg and "onnxruntime-gpu" in msg
    assert f"ort.get_available_providers() is {', '.join(ort.get_available_providers())}" in msg
    with pytest.raises(ConfigError, match="NoSuchExecutionProvider"):
        embed.OnnxMiniLM(providers="NoSuchExecutionProvider")
    model = embed.OnnxMiniLM(providers="CPUExecutionProvider")  # bundled, nothing downloads
    assert model.session.get_providers() == ["CPUExecutionProvider"]
    assert model.embed(["a test"]).shape == (1, 384)


class CountingHash(HashEmbedder):
    """Hash vectors, remembering the size of each model call."""

    calls: list[int] = []

    def embed(self, texts: Any) -> np.ndarray:
        """Record the batch size, then embed."""
        CountingHash.calls.append(len(texts))
        return super().embed(texts)


def test_a_queued_part_embeds_its_range_in_batches_of_embed_batch(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperfeed.worker import JOBS

    with db.write() as conn:
        upsert_papers(conn, papers(25))
    with db.read() as conn:
        ranges = embed_ranges(conn, "hash-64", 10)
        revs = [r[0] for r in conn.execute(sa.text("SELECT rev FROM papers ORDER BY rev"))]
    assert ranges == [(0, revs[9]), (revs[9], revs[19]), (revs[19], revs[24])]
    monkeypatch.setitem(embed._REGISTRY, "counting", lambda a, t, p: CountingHash(64))
    monkeypatch.setattr(embed, "_CACHE", {})
    CountingHash.calls = []
    settings = Settings(database_url=db.url, embed_model="counting", embed_batch=4)
    job = JOBS["index"]
    assert job.run_part is not None
    job.run_part(settings, db, {"after_rev": ranges[1][0], "upto_rev": ranges[1][1]})
    assert CountingHash.calls == [4, 4, 2]  # the 10 papers of the middle range, 4 per call
    with db.read() as conn:
        assert count_vectors(conn, "hash-64") == 10
        assert count_to_embed(conn, "hash-64") == 15
        assert embed_ranges(conn, "hash-64", 10) == [(0, revs[9]), (revs[9], revs[24])]
    # The whole backlog in one process (the local scheduler's way) is unchanged.
    assert embed_missing(db, HashEmbedder(64), batch=8) == (15, 0)
    with db.read() as conn:
        assert embed_ranges(conn, "hash-64", 10) == []  # nothing left: nothing to plan


# --- PostgreSQL: real worker processes ---


@pytest.mark.postgres
def test_m0021_applies_again_over_leftovers_of_a_restore(pg_url: str) -> None:
    from paperfeed.store.migrate import upgrade

    db = open_database(pg_url)
    # A restore of a pre-m0021 backup drops the queue's tables but leaves its types and functions.
    with db.write() as conn:
        for table in ("periodic_defers", "events", "jobs", "workers"):
            conn.execute(sa.text(f"DROP TABLE procrastinate_{table} CASCADE"))
        conn.execute(sa.text("DROP TABLE queue_errors"))
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE name = 'm0021_job_queue'"))
    assert upgrade(db) == ["m0021_job_queue"]
    with db.read() as conn:
        assert queue_store.has_queue(conn) and queue_store.depth(conn) == {}
    db.dispose()
    defer(pg_url, "rank")  # the recreated functions work


class Workers:
    """`paperfeed worker` subprocesses on one queue, stopped (by their own pid) at the end."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.procs: list[subprocess.Popen[str]] = []
        self.logs: list[Path] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
        env.update({f"PAPERFEED_SCHEDULE_{s.upper()}": "" for s in SCHEDULES})
        env.update(
            {
                "PYTHONPATH": f"{ROOT}{os.pathsep}{TESTS}",
                "PAPERFEED_DATABASE_URL": self.url,
                "PAPERFEED_JOB_QUEUE": "postgres",
                "PAPERFEED_DATA_DIR": str(self.tmp / "data"),
                "PAPERFEED_TEST_EMBED_LOG": str(self.tmp),
                "PAPERFEED_EMBED_MODEL": "slowhash:0",
                "PAPERFEED_QUEUE_POLL": "0.3",
                "PAPERFEED_QUEUE_HEARTBEAT": "0.5",
                "PAPERFEED_QUEUE_STALLED_AFTER": "3",
                "PAPERFEED_HTTP_RETRIES": "0",
                **extra,
            }
        )
        return env

    def start(self, **extra: str) -> subprocess.Popen[str]:
        log = self.tmp / f"worker-{len(self.procs)}.log"
        proc = subprocess.Popen(
            [sys.executable, str(TESTS / "_queue_worker.py"), "worker"],
            env=self.env(**extra),
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            text=True,
        )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def log_text(self, i: int) -> str:
        return self.logs[i].read_text()

    def embedded_by(self, proc: subprocess.Popen[str]) -> list[str]:
        path = self.tmp / f"embedded-{proc.pid}.txt"
        return path.read_text().split() if path.exists() else []

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # procrastinate stops after the running job
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


@pytest.fixture
def workers(pg_url: str, tmp_path: Path) -> Iterator[Workers]:
    open_database(pg_url).dispose()  # `paperfeed migrate`: m0021 adds the queue
    w = Workers(pg_url, tmp_path)
    yield w
    w.stop()


def live_workers(db: Database) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM procrastinate_workers "
                    "WHERE last_heartbeat > now() - interval '2 seconds'"
                )
            ).scalar_one()
        )


def queue_rows(db: Database, task: str) -> list[Any]:
    with db.read() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT id, status::text AS status, attempts, args FROM procrastinate_jobs "
                    "WHERE task_name = :t ORDER BY id"
                ),
                {"t": task},
            )
        )


def defer(url: str, name: str, **settings: Any) -> int:
    from paperfeed.jobqueue import defer as defer_job

    db = Database(url)
    try:
        job_id = defer_job(Settings(database_url=url, job_queue="postgres", **settings), db, name)
    finally:
        db.dispose()
    assert job_id is not None
    return job_id


@pytest.mark.postgres
def test_two_workers_share_a_backlog_and_embed_every_paper_once(workers: Workers) -> None:
    db = Database(workers.url)
    with db.write() as conn:
        upsert_papers(conn, papers(240))
    # 12 parts of 20 papers, each about 0.5 s of "model" time.
    a = workers.start(PAPERFEED_EMBED_CLAIM="20", PAPERFEED_EMBED_MODEL="slowhash:0.025")
    b = workers.start(PAPERFEED_EMBED_CLAIM="20", PAPERFEED_EMBED_MODEL="slowhash:0.025")
    wait_until(lambda: live_workers(db) == 2, "both workers to register")
    defer(workers.url, "index", embed_claim=20, embed_model="slowhash:0.025")

    def done() -> bool:
        with db.read() as conn:
            left = count_to_embed(conn, "slowhash-64")
            busy = queue_store.pending(conn, "paperfeed.part", "index")
        return left == 0 and busy == 0

    wait_until(done, "the backlog to be embedded")
    by_a, by_b = workers.embedded_by(a), workers.embedded_by(b)
    assert sorted(by_a + by_b) == sorted(f"P{p.id}" for p in papers(240))  # each exactly once
    assert by_a and by_b, "both workers took parts of the backlog"
    parts = queue_rows(db, "paperfeed.part")
    assert len(parts) == 12 and {r.status for r in parts} == {"succeeded"}
    with db.read() as conn:
        assert count_vectors(conn, "slowhash-64") == 240
        # The status page's numbers: parts per status, no failure.
        assert queue_store.depth(conn)["paperfeed.part"] == {"succeeded": 12}
        assert queue_store.recent_failures(conn) == []
    db.dispose()


@pytest.mark.postgres
def test_a_job_of_a_killed_worker_is_retried_and_completes(workers: Workers) -> None:
    db = Database(workers.url)
    with db.write() as conn:
        upsert_papers(conn, papers(60))
    # 3 parts of 20 papers, 5 per model call at 0.2 s a paper: 4 s each, saved at the end.
    slow = {
        "PAPERFEED_EMBED_CLAIM": "20",
        "PAPERFEED_EMBED_BATCH": "5",
        "PAPERFEED_EMBED_MODEL": "slowhash:0.2",
    }
    a = workers.start(**slow)
    wait_until(lambda: live_workers(db) == 1, "the first worker to register")
    defer(workers.url, "index", embed_claim=20, embed_model="slowhash:0.2")
    wait_until(lambda: workers.embedded_by(a), "the first worker to be mid-part")
    with db.read() as conn:
        running = conn.execute(
            sa.text(
                "SELECT id FROM procrastinate_jobs WHERE status = 'doing' "
                "AND task_name = 'paperfeed.part'"
            )
        ).scalar_one()
    os.kill(a.pid, signal.SIGKILL)
    a.wait(10)
    b = workers.start(**slow)

    def done() -> bool:
        with db.read() as conn:
            return count_to_embed(conn, "slowhash-64") == 0 and not queue_store.pending(
                conn, "paperfeed.part", "index"
            )

    wait_until(done, "the surviving worker to finish the backlog")
    job = next(r for r in queue_rows(db, "paperfeed.part") if r.id == running)
    assert job.status == "succeeded" and job.attempts >= 1  # run again after the kill
    assert {r.status for r in queue_rows(db, "paperfeed.part")} == {"succeeded"}
    assert f"job {running} (paperfeed.part) ran on a worker silent" in workers.log_text(1)
    with db.read() as conn:
        assert count_vectors(conn, "slowhash-64") == 60
    # The killed part never saved: the second worker embedded all of its papers again.
    rng = job.args["part"]
    with db.read() as conn:
        share = conn.execute(
            sa.text("SELECT id FROM papers WHERE rev > :a AND rev <= :b"),
            {"a": rng["after_rev"], "b": rng["upto_rev"]},
        ).scalars()
        share_ids = {f"P{i}" for i in share}
    assert len(share_ids) == 20 and share_ids <= set(workers.embedded_by(b))
    assert b.poll() is None
    db.dispose()


@pytest.mark.postgres
def test_a_periodic_job_runs_once_per_period_with_two_workers(workers: Workers) -> None:
    db = Database(workers.url)
    every2s = {"PAPERFEED_SCHEDULE_RANK": "2s"}
    workers.start(**every2s)
    workers.start(**every2s)
    wait_until(lambda: live_workers(db) == 2, "both workers to register")
    start = time.time()
    wait_until(lambda: len(queue_rows(db, "paperfeed.rank")) >= 5, "five periods", timeout=60)
    elapsed = time.time() - start
    time.sleep(1.0)  # the last job finishes
    workers.stop()
    rows = queue_rows(db, "paperfeed.rank")
    stamps = [int(r.args["timestamp"]) for r in rows]
    # One job per 2-second period, whichever worker's deferrer got there first.
    assert len(stamps) == len(set(stamps)), f"a period ran twice: {stamps}"
    assert all(s % 2 == 0 for s in stamps)
    assert len(stamps) <= elapsed / 2 + 3
    ran = sum(workers.log_text(i).count("trending: ranked") for i in range(2))
    succeeded = [r for r in rows if r.status == "succeeded"]
    assert ran == len(succeeded) >= 5
    db.dispose()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@pytest.mark.postgres
def test_a_failing_job_retries_with_backoff_and_shows_on_the_status_page(
    workers: Workers,
) -> None:
    from _recommend_helpers import member, signed_in

    from paperfeed.store import users as user_store

    db = Database(workers.url)
    workers.start(
        PAPERFEED_HF_API_URL=f"http://127.0.0.1:{closed_port()}",
        PAPERFEED_QUEUE_RETRIES="2",
        PAPERFEED_QUEUE_RETRY_WAIT="1",
    )
    wait_until(lambda: live_workers(db) == 1, "the worker to register")
    job_id = defer(workers.url, "harvest_hf")
    wait_until(
        lambda: [r for r in queue_rows(db, "paperfeed.harvest_hf") if r.status == "failed"],
        "the job to run out of retries",
    )
    with db.read() as conn:
        fails = queue_store.recent_failures(conn)
    assert [(f.job_id, f.attempt) for f in fails] == [(job_id, 2), (job_id, 1), (job_id, 0)]
    at = [f.at for f in reversed(fails)]
    first_gap, second_gap = (at[1] - at[0]).total_seconds(), (at[2] - at[1]).total_seconds()
    assert first_gap >= 1.0 and second_gap >= 2.0  # 1 s, then twice as long
    assert all(f.status == "failed" and f.task == "paperfeed.harvest_hf" for f in fails)
    settings = Settings(database_url=workers.url, data_dir=str(workers.tmp / "web"))
    ada = member(db, "ada@example.org")
    with db.write() as conn:
        user_store.set_role(conn, ada.id, "admin")
    admin = signed_in(settings, db, ada.email)
    status = admin.get("/api/admin/status").json()["queue"]
    assert status["tasks"]["paperfeed.harvest_hf"] == {"failed": 1}
    assert status["recent_failures"][0]["attempt"] == 3
    assert "127.0.0.1" in status["recent_failures"][0]["message"]
    page = admin.get("/admin/status").text
    assert "Job queue" in page and "paperfeed.harvest_hf" in page and "Recent failures" in page
    db.dispose()

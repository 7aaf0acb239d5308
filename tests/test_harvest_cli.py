"""The harvest commands: summaries, exit codes, the status view, and kill -9 in the middle of a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _harvest_helpers import (  # noqa: F401 (fixtures)
    HF_DIR,
    RAW_TOKEN,
    Reply,
    Upstream,
    no_outside_network_fixture,
    recorded_oai_app,
    settings_env,
    settings_for,
    snapshot,
    upstream_fixture,
    wipe,
)
from click.testing import CliRunner

from paperfeed.cli import main
from paperfeed.harvest import harvest
from paperfeed.store import Database
from paperfeed.store import harvests as harvest_store
from paperfeed.store.papers import count_papers

pytestmark = pytest.mark.usefixtures("no_outside_network")

ARXIV_ARGS = ["harvest", "arxiv", "--set", "cs", "--from", "2016-10-20", "--until", "2016-10-21"]


def run_cli(upstream: Upstream, db: Database, args: list[str]) -> object:
    env = settings_env(settings_for(upstream, db.url))
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_arxiv_summary_and_exit_codes(db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_oai_app()
    first = run_cli(upstream, db, ARXIV_ARGS)
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    assert "arxiv:cs: 388 new, 0 updated, 0 skipped, 0 errors (2 page(s))" in first.stdout  # type: ignore[attr-defined]
    # Without a terminal the progress display becomes one line per page on stderr.
    assert "arxiv:cs page 1: 387 record(s) so far" in first.stderr  # type: ignore[attr-defined]
    again = run_cli(upstream, db, ARXIV_ARGS)
    assert again.exit_code == 3  # type: ignore[attr-defined]
    assert "0 new, 0 updated, 388 skipped" in again.stdout  # type: ignore[attr-defined]


def test_status_shows_last_run_per_source(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_oai_app()
    run_cli(upstream, sqlite_db, ARXIV_ARGS)
    upstream.script([Reply(b"down for maintenance", 404)])
    failed = run_cli(upstream, sqlite_db, ["harvest", "hf", "--date", "2026-11-26"])
    assert failed.exit_code == 2  # type: ignore[attr-defined]
    assert failed.stderr.startswith("error: ") and "HTTP 404" in failed.stderr  # type: ignore[attr-defined]
    table = run_cli(upstream, sqlite_db, ["harvest", "status"])
    text = table.stdout  # type: ignore[attr-defined]
    assert "arxiv:cs" in text and "2016-10-21" in text and "388" in text
    assert "hf" in text and "error" in text and "HTTP 404" in text
    as_json = run_cli(upstream, sqlite_db, ["harvest", "status", "--json"])
    rows = {r["source"]: r for r in json.loads(as_json.stdout)}  # type: ignore[attr-defined]
    assert rows["arxiv:cs"]["last_run"]["status"] == "ok"
    assert rows["arxiv:cs"]["last_run"]["new"] == 388
    assert rows["hf"]["last_run"]["status"] == "error" and rows["hf"]["cursor"] is None


def test_hf_date_and_range_options(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.script([Reply((HF_DIR / "2024-05-29.json").read_bytes())])
    ok = run_cli(upstream, sqlite_db, ["harvest", "hf", "--date", "2024-05-29"])
    assert ok.exit_code == 0 and "hf: 8 new" in ok.stdout  # type: ignore[attr-defined]
    assert upstream.requests[-1].params["date"] == "2024-05-29"
    bad = run_cli(
        upstream, sqlite_db, ["harvest", "hf", "--date", "2024-05-29", "--from", "2024-05-01"]
    )
    assert bad.exit_code == 2 and "either --date or --from" in bad.output  # type: ignore[attr-defined]
    upstream.requests.clear()
    upstream.script([Reply(b"[]")])
    rng = run_cli(
        upstream, sqlite_db, ["harvest", "hf", "--from", "2024-05-30", "--until", "2024-06-01"]
    )
    assert rng.exit_code == 3  # type: ignore[attr-defined]
    assert [r.params["date"] for r in upstream.requests] == [
        "2024-05-30",
        "2024-05-31",
        "2024-06-01",
    ]


def _wait_for(predicate: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_harvest_resumes_to_the_same_database(
    db: Database, upstream: Upstream, tmp_path: Path
) -> None:
    settings = settings_for(upstream, db.url, http_timeout=120.0)
    upstream.app = recorded_oai_app()
    harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")
    clean = snapshot(db)
    wipe(db)

    # Page 2 stalls, so the process is killed after page 1 was committed and before page 2.
    stall = threading.Event()
    upstream.app = recorded_oai_app(stall_page2=stall)
    upstream.requests.clear()
    env = {**os.environ, **settings_env(settings)}
    cmd = [sys.executable, "-m", "paperfeed", *ARXIV_ARGS, "--quiet"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:

        def page1_committed() -> bool:
            with db.read() as conn:
                text = harvest_store.get_state(conn, "arxiv:cs")
            return bool(text) and json.loads(text)["pending"] is not None

        _wait_for(page1_committed, "page 1 to be stored")
        _wait_for(lambda: len(upstream.requests) == 2, "the request for page 2")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stall.set()
    assert proc.returncode == -signal.SIGKILL
    with db.read() as conn:
        assert count_papers(conn) == 387
        assert [r.status for r in harvest_store.recent_runs(conn)] == ["running"]
        assert (
            json.loads(harvest_store.get_state(conn, "arxiv:cs") or "")["pending"]["resume"]
            == RAW_TOKEN
        )

    upstream.requests.clear()
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "1 new" in rerun.stdout and "resumed an interrupted run" in rerun.stdout
    assert [r.params.get("resumptionToken") for r in upstream.requests] == [RAW_TOKEN]
    assert snapshot(db) == clean
    with db.read() as conn:
        assert [r.status for r in harvest_store.recent_runs(conn)] == ["ok", "interrupted"]


def test_a_source_being_harvested_elsewhere_is_refused(db: Database, upstream: Upstream) -> None:
    from paperfeed.store.locks import release, try_lock

    upstream.app = recorded_oai_app()
    held = try_lock(Database(db.url), "harvest:arxiv:cs")
    assert held is not None
    try:
        busy = run_cli(upstream, db, ARXIV_ARGS)
    finally:
        release(held)
        held.db.dispose()
    assert busy.exit_code == 2  # type: ignore[attr-defined]
    assert "another harvest of arxiv:cs is running" in busy.stderr  # type: ignore[attr-defined]
    assert upstream.requests == []
    assert run_cli(upstream, db, ARXIV_ARGS).exit_code == 0  # type: ignore[attr-defined]

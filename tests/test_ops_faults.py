"""SQLite shared by several processes: no 'database is locked', and SIGKILL mid-import loses nothing acknowledged."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from paperfeed.models import FeedEntry, Paper
from paperfeed.sources.files import export_record
from paperfeed.store import Database, open_database
from paperfeed.store.backup import integrity_problems

WRITER = Path(__file__).resolve().parent / "_ops_writer.py"
BATCH = 20
PER_FILE = 400  # 20 batches per import
ROUNDS = 6  # SIGKILLs of an importer mid-run


def make_file(path: Path, prefix: str) -> list[str]:
    """A paperfeed JSONL file of PER_FILE synthetic papers with feed entries; returns the ids in order."""
    ids = []
    with path.open("w") as fh:
        for i in range(PER_FILE):
            pid = f"{prefix}.{i:05d}"
            ids.append(pid)
            p = Paper(
                id=pid,
                title=f"Paper {pid} on fault tolerance",
                abstract="An abstract long enough to make a page or two of writes. " * 8,
                authors=["A. Writer", "B. Killer"],
                categories=["cs.DB"],
                published=datetime(2025, 1, 1 + i % 28),
            )
            entry = FeedEntry(pid, date(2025, 1, 1 + i % 28), "fault-test", None, "import")
            fh.write(json.dumps(export_record(p, [entry])) + "\n")
    return ids


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(WRITER.parent.parent)},
    )


def present(db: Database, ids: list[str]) -> set[str]:
    with db.read() as conn:
        rows = conn.execute(
            sa.text("SELECT p.id FROM papers p JOIN feed_entries f ON f.paper_id = p.id")
        )
        have = {r[0] for r in rows}
    return have & set(ids)


def test_writers_share_the_file_and_sigkill_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pf.db'}"
    open_database(url).dispose()
    rng = random.Random(8)
    reader = spawn("read", url, "6")
    errors: list[str] = []
    steady_ids: list[str] = []
    for r in range(ROUNDS):
        ids = make_file(tmp_path / f"round{r}.jsonl", f"25{r:02d}")
        steady_ids += make_file(tmp_path / f"steady{r}.jsonl", f"24{r:02d}")
        # Two importers write at once; one of them is SIGKILLed, maybe holding the write lock.
        steady = spawn("import", url, str(tmp_path / f"steady{r}.jsonl"), "5")
        proc = spawn("import", url, str(tmp_path / f"round{r}.jsonl"), str(BATCH))
        assert proc.stdout is not None and proc.stderr is not None
        kill_after = rng.randint(1, PER_FILE // BATCH - 2)
        acked = 0
        for line in proc.stdout:
            if line.startswith("ack "):
                acked = int(line.split()[1])
                if acked >= kill_after * BATCH:
                    proc.send_signal(signal.SIGKILL)  # mid-run: the next batch is being written
                    break
        proc.wait(timeout=60)
        errors.append(proc.stderr.read())
        assert proc.returncode == -signal.SIGKILL, errors[-1]
        out, err = steady.communicate(timeout=120)
        errors.append(err)
        assert steady.returncode == 0 and f"done {PER_FILE}" in out, err
        db = Database(url)
        try:
            assert integrity_problems(db) == []
            have = present(db, ids)
            # Every acknowledged batch is there, and batches are all-or-nothing.
            assert set(ids[:acked]) <= have, f"round {r}: lost acknowledged rows"
            assert len(have) % BATCH == 0 and len(have) <= acked + BATCH
        finally:
            db.dispose()
    rout, rerr = reader.communicate(timeout=60)
    errors.append(rerr)
    assert reader.returncode == 0 and int(rout.split()[1]) > 0, rerr
    assert not [e for e in errors if "database is locked" in e or "Traceback" in e], errors
    # The next start needs no repair: it migrates nothing, the file checks out, writes go on.
    started = subprocess.run(
        [sys.executable, "-m", "paperfeed", "--database-url", url, "init"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0 and "0 migration(s) applied" in started.stdout, started.stderr
    db = Database(url)
    try:
        assert integrity_problems(db) == []
        assert present(db, steady_ids) == set(steady_ids)
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    finally:
        db.dispose()

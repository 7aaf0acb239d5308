"""SQLite shared by several processes: no 'database is locked', and SIGKILL mid-import loses nothing acknowledged."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from conftest import FIXTURES

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


# --- the web process SIGKILLed while members vote ---

PASSWORD = "correct horse battery staple"
VOTE_ROUNDS = 3


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _csrf(client: httpx.Client, path: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def test_web_process_sigkilled_during_votes(database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_WRITE_RATE_LIMIT": "1000000",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = [sys.executable, "-m", "paperfeed"]
    subprocess.run(
        [*cmd, "import", "-q", str(FIXTURES / "arxiv-metadata-oai-snapshot.first200.jsonl")],
        env=env,
        check=True,
        timeout=120,
    )
    db = Database(database_url)
    with db.read() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM papers ORDER BY id"))]
    db.dispose()
    acked: set[tuple[str, str]] = set()
    rng = random.Random(3)
    for r in range(VOTE_ROUNDS):
        email = f"member{r}@example.org"
        subprocess.run(
            [*cmd, "user", "create", "--password-stdin", email],
            input=PASSWORD + "\n",
            env=env,
            check=True,
            timeout=120,
            capture_output=True,
            text=True,
        )
        port = _free_port()
        log = (tmp_path / f"serve{r}.log").open("w")
        proc = subprocess.Popen(
            [*cmd, "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base, proc)  # each start after a SIGKILL needs no repair
            client = httpx.Client(base_url=base, timeout=30)
            token = _csrf(client, "/login")
            signed_in = client.post(
                "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
            )
            assert signed_in.status_code in (302, 303), signed_in.text[:300]
            token = _csrf(client, "/settings")
            kill_after = rng.randint(10, 40)
            mine = ids[:]
            rng.shuffle(mine)
            acked |= _vote_storm(client, email, token, mine, kill_after, proc)
            client.close()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            log.close()
        db = Database(database_url)
        try:
            assert integrity_problems(db) == []
            with db.read() as conn:
                stored = {
                    (e, p)
                    for e, p in conn.execute(
                        sa.text(
                            "SELECT u.email, v.paper_id FROM votes v JOIN users u ON u.id = v.user_id"
                        )
                    )
                }
                drift = conn.execute(
                    sa.text(
                        "SELECT p.id FROM papers p WHERE p.votes <> "
                        "(SELECT count(*) FROM votes v WHERE v.paper_id = p.id)"
                    )
                ).all()
            assert acked <= stored, "an acknowledged vote was lost"
            assert drift == []  # the vote counter moved in the same transaction as the vote
        finally:
            db.dispose()
    assert len(acked) >= VOTE_ROUNDS * 10
    text = "".join((tmp_path / f"serve{r}.log").read_text() for r in range(VOTE_ROUNDS))
    assert "database is locked" not in text and "Traceback" not in text


def _vote_storm(
    client: httpx.Client,
    email: str,
    token: str,
    papers: list[str],
    kill_after: int,
    proc: subprocess.Popen[bytes],
) -> set[tuple[str, str]]:
    """Vote with four requests in flight; SIGKILL the server after kill_after acknowledgements."""
    acked: set[tuple[str, str]] = set()
    lock = threading.Lock()
    got = threading.Event()

    def vote(pid: str) -> None:
        try:
            resp = client.post(
                "/vote",
                data={"paper_id": pid, "action": "up", "csrf_token": token},
                headers={"accept": "application/json"},
            )
        except httpx.TransportError:
            return  # the server died before answering: not acknowledged
        assert resp.status_code == 200, resp.text[:300]
        with lock:
            acked.add((email, pid))
            if len(acked) >= kill_after:
                got.set()

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(vote, pid) for pid in papers]
        assert got.wait(60), "votes did not arrive"
        os.killpg(proc.pid, signal.SIGKILL)  # with votes in flight
        for f in futures:
            f.result()
    return acked


def _wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    import time

    deadline = time.monotonic() + 60
    while True:
        try:
            r = httpx.get(f"{base}/healthz", timeout=2)
            if r.status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "server exited"
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)

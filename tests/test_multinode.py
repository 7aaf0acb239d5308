"""Two web processes with their own data folders over one PostgreSQL follow one published index."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FIXTURES, ROOT

from paperfeed.models import Paper
from paperfeed.search.publication import PARTIAL, DirectoryPublisher
from paperfeed.store import open_database
from paperfeed.store.papers import upsert_papers

QUERIES = ["quantum chromodynamics", "galaxy", "graph", "cat:hep-ph photon", "neutrino mass"]
NEW = Paper(
    id="2512.00001",
    title="Zymurgical Fermentation Kinetics of Lattice Yeasts",
    abstract="Zymurgical kinetics of yeasts on a lattice, measured in breweries.",
    authors=["Louis Pasteur"],
    categories=["q-bio.CB"],
)
# Stands for a slow build or a publisher that dies mid-copy: after two files it waits forever,
# having said so in a marker file.
HANG = """
import sys, time
from pathlib import Path
from paperfeed.search import publication
copied = []
real = publication._copy_hashed
def slow(src, dst):
    copied.append(src)
    if len(copied) > 2:
        Path(sys.argv[1]).write_text("hanging")
        time.sleep(3600)
    return real(src, dst)
publication._copy_hashed = slow
from paperfeed.cli import main
main(["index", "--no-embed", "-q"])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str, data: Path, shared: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_DATA_DIR": str(data),
        "PAPERFEED_INDEX_PUBLISH_DIR": str(shared),
        "PAPERFEED_INDEX_PUBLISH_KEEP": "2",
        "PAPERFEED_EMBED_MODEL": "hash",
        "PAPERFEED_SERVE_SCHEDULER": "0",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def _paperfeed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        env=env,
        check=True,
        timeout=180,
        capture_output=True,
        text=True,
    )


class Web:
    """One `paperfeed serve` process on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=5)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)

    def search(self, q: str) -> Any:
        # Never waits for an indexer: the client's 5 s timeout fails a request that would.
        r = self.client.get("/api/papers/search", params={"q": q, "mode": "lexical", "limit": 20})
        assert r.status_code == 200, r.text[:300]
        return r.json()

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self.log.close()


def _ids(body: Any) -> list[str]:
    return [item["paper"]["id"] for item in body]


def _wait_for(webs: list[Web], q: str, want: list[str]) -> None:
    deadline = time.monotonic() + 30
    while not all(_ids(w.search(q)) == want for w in webs):
        assert time.monotonic() < deadline, f"{q!r} did not reach {want} on every web process"
        time.sleep(0.2)


def _local(tmp: Path, name: str) -> list[str]:
    folder = tmp / name / "search" / "published"
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("g"))


@pytest.mark.multinode
@pytest.mark.postgres
def test_two_web_processes_follow_one_published_index(pg_url: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    worker = _env(pg_url, tmp_path / "worker", shared)
    _paperfeed(worker, "import", "-q", str(FIXTURES / "arxiv-metadata-oai-snapshot.first200.jsonl"))
    out = _paperfeed(worker, "index", "--no-embed", "-q")
    assert "published keyword index g" in out.stdout
    first = DirectoryPublisher(shared).manifest()
    assert first is not None and first.docs == 200

    webs = [Web(_env(pg_url, tmp_path / n, shared), tmp_path / f"{n}.log") for n in ("a", "b")]
    try:
        for w in webs:
            w.wait_ready()
        # A fresh machine serves keyword search from the fetched generation at once.
        answers = [[w.search(q) for q in QUERIES] for w in webs]
        assert answers[0] == answers[1]
        assert sum(len(a) for a in answers[0]) > 0
        assert _ids(webs[0].search("zymurgical")) == []
        for n in ("a", "b"):
            assert _local(tmp_path, n) == [first.generation]
            assert not (tmp_path / n / "search" / "lexical").exists()  # never built one

        db = open_database(pg_url)
        try:
            with db.write() as conn:
                upsert_papers(conn, [NEW])
        finally:
            db.dispose()

        # The next build is slow and then dies mid-publish: web processes keep answering from
        # the old generation all along.
        marker = tmp_path / "hanging"
        hang = subprocess.Popen(
            [sys.executable, "-c", HANG, str(marker)], env=worker, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while not marker.exists():
                assert hang.poll() is None, "the hanging publisher exited"
                assert time.monotonic() < deadline, "the publisher never reached the copy"
                time.sleep(0.1)
            for _ in range(5):
                for w in webs:
                    assert _ids(w.search("zymurgical")) == []
                time.sleep(0.3)
        finally:
            os.killpg(hang.pid, signal.SIGKILL)
            hang.wait(timeout=20)
        assert [p.name.startswith(PARTIAL) for p in shared.iterdir()].count(True) == 1
        manifest = DirectoryPublisher(shared).manifest()
        assert manifest is not None and manifest.generation == first.generation
        time.sleep(1.5)  # past the followers' poll interval: they looked and stayed
        for w in webs:
            assert _ids(w.search("zymurgical")) == []
            assert w.search(QUERIES[0]) == answers[0][0]

        # The next publish completes: both switch and answer the same again; GC cleans up.
        _paperfeed(worker, "index", "--no-embed", "-q")
        _wait_for(webs, "zymurgical", [NEW.id])
        again = [[w.search(q) for q in QUERIES] for w in webs]
        assert again[0] == again[1]
        assert not any(p.name.startswith(PARTIAL) for p in shared.iterdir())
        for i, word in enumerate(["xylophonic", "quixotic"]):
            db = open_database(pg_url)
            try:
                with db.write() as conn:
                    upsert_papers(conn, [Paper(id=f"2512.1000{i}", title=f"{word} music")])
            finally:
                db.dispose()
            _paperfeed(worker, "index", "--no-embed", "-q")
            _wait_for(webs, word, [f"2512.1000{i}"])
        last = DirectoryPublisher(shared).manifest()
        assert last is not None
        gens = DirectoryPublisher(shared).generations()
        assert len(gens) == 2 and gens[-1] == last.generation and first.generation not in gens
        for n in ("a", "b"):
            local = _local(tmp_path, n)
            assert len(local) <= 2 and local[-1] == last.generation
            assert first.generation not in local
    finally:
        for w in webs:
            w.stop()
    logs = "".join((tmp_path / f"{n}.log").read_text() for n in ("a", "b"))
    assert "Traceback" not in logs


def test_embedded_default_serve_still_indexes_itself(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'one.db'}"
    env = _env(db_url, tmp_path / "data", tmp_path / "unused")
    env.pop("PAPERFEED_INDEX_PUBLISH_DIR")
    _paperfeed(env, "import", "-q", str(FIXTURES / "arxiv-metadata-oai-snapshot.first200.jsonl"))
    web = Web(env, tmp_path / "one.log")
    try:
        web.wait_ready()
        assert len(web.search("quantum chromodynamics")) > 0
        assert (tmp_path / "data" / "search" / "lexical" / "CURRENT").exists()
        assert not (tmp_path / "unused").exists()
    finally:
        web.stop()

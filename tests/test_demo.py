"""`paperfeed serve --demo` end to end: every paper gets keywords, bundled papers show full text."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from paperfeed.fulltext import load_bundled
from paperfeed.store import Database, open_database
from paperfeed.store import fulltexts as fulltext_store
from paperfeed.store.schema import keyword_runs, paper_keywords, papers

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _without_keywords(db: Database) -> list[str]:
    has = sa.select(paper_keywords.c.paper_id).distinct()
    q = sa.select(papers.c.id).where(papers.c.hidden == sa.false(), papers.c.id.not_in(has))
    with db.read() as conn:
        return [r.id for r in conn.execute(q)]


def test_bundled_full_texts_load_index_only_with_their_references(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    assert load_bundled(db) == 4
    assert load_bundled(db) == 4  # loading again replaces, never duplicates
    with db.read() as conn:
        ft = fulltext_store.get(conn, "2501.11120")
        assert ft is not None and ft.status == "ok" and len(ft.sections) > 50
        assert len(fulltext_store.references(conn, "2501.11120")) == 48
        assert fulltext_store.get(conn, "astro-ph/9710163") is not None
    db.dispose()


def test_serve_demo_gives_every_paper_keywords_and_bundled_full_texts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env |= {
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_EMBED_MODEL": "hash",  # the bundled model would take minutes for 4,900 papers
        "PAPERFEED_SERVE_SCHEDULER": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--demo", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    db = open_database(url)
    try:
        deadline = time.monotonic() + 900
        total = -1
        while True:
            assert proc.poll() is None, "serve --demo stopped"
            try:
                with db.read() as conn:
                    total = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar()
                    done = conn.execute(
                        sa.select(sa.func.count()).select_from(keyword_runs)
                    ).scalar()
                if total and done == total:
                    break
            except sa.exc.OperationalError:
                pass  # the tables are being created
            assert time.monotonic() < deadline, f"keywords for {done} of {total} papers"
            time.sleep(2)
        assert total > 4900
        assert _without_keywords(db) == []
        page = httpx.get(base + "/papers/2501.11120", timeout=30).text
        assert "References <small>(48)</small>" in page
        assert "does not let this site show its full text" in page  # no licence is recorded
        md = httpx.get(base + "/papers/2501.11120.md", timeout=30).text
        assert "## References" in md and "Keywords extracted by paperfeed:" in md
        found = httpx.get(
            base + "/api/papers/search", params={"q": "manipulatee", "mode": "lexical"}, timeout=30
        ).json()
        assert "2501.11120" in str(found)  # a word of its body only
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        db.dispose()

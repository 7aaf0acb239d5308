"""Helpers for the web tests: a seeded feed, real HF day files, and uvicorn on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from paperfeed.models import FeedEntry, Paper, Signal
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store
from paperfeed.store import signals as signal_store

HOSTILE_TITLE = '<script>alert("pwned")</script> Robust <b>bold</b> claims'
MATH_TITLE = r"Black holes of $10^9\,M_\odot$ at $z>6$"

# (id, title, upvotes, day); days: Mon 2024-05-27, Wed 05-29, Mon 06-03 (next ISO week),
# Mon 07-01 (next month). 05-28 and 05-30..06-02 have nothing, so day links must skip them.
SEED = [
    ("2405.00001", "Attention Is Still All You Need", 12, date(2024, 5, 27)),
    ("2405.00002", "Scaling Laws Revisited", 40, date(2024, 5, 27)),
    ("2405.00003", MATH_TITLE, 7, date(2024, 5, 29)),
    ("2405.00004", HOSTILE_TITLE, 3, date(2024, 5, 29)),
    ("2405.00005", "Diffusion Models for Everything", 25, date(2024, 5, 29)),
    ("hep-th/9901001", "An Old-Style Paper on Strings", 1, date(2024, 5, 29)),
    ("2406.00006", "Small Language Models Win", 9, date(2024, 6, 3)),
    ("2406.00007", "Benchmarks Considered Harmful", 30, date(2024, 6, 3)),
    ("2407.00008", "Agents in the Wild", 5, date(2024, 7, 1)),
]
MATH_ABSTRACT = (
    r"We find quasars hosting black holes of $10^9\,M_\odot$ when the universe was young, "
    r"and an escaped \$5 bill. The rate scales as $\propto t^{-1/2}$."
    "\n\nA second paragraph with <i>markup</i> that must stay text."
)


def seed(db: Database) -> None:
    """Store the SEED papers and their feed entries (with extra metadata on a few)."""
    papers = []
    for i, (pid, title, upvotes, day) in enumerate(SEED):
        papers.append(
            Paper(
                id=pid,
                title=title,
                abstract=MATH_ABSTRACT if "M_\\odot" in title else f"Abstract of {title}. " * 3,
                authors=[f"Author {i} A", f"Author {i} B", "Ada Lovelace"],
                categories=["cs.CL", "cs.LG"] if not pid.startswith("hep") else ["hep-th"],
                version=2,
                published=datetime(day.year, day.month, day.day) - (day - date(2024, 5, 20)),
                updated=datetime(day.year, day.month, day.day, 12),
                comments="10 pages, 3 figures",
                journal_ref="J. Test. 1 (2024) 1",
                doi="10.1000/test.123",
                license="http://creativecommons.org/licenses/by/4.0/",
                github_repo="https://github.com/example/repo" if i == 1 else None,
                project_page="javascript:alert(1)" if i == 3 else "https://example.org/p",
                upvotes=upvotes,
            )
        )
    with db.write() as conn:
        paper_store.upsert_papers(conn, papers)
        feed_store.add_entries(
            conn,
            [
                FeedEntry(pid, day, "akhaliq", datetime(day.year, day.month, day.day, 8), "hf")
                for pid, _, _, day in SEED
            ],
        )
        signal_store.add_signals(
            conn, [Signal("2405.00002", "github_stars", 321.0, datetime(2024, 5, 28))]
        )


def load_hf_day(db: Database, path: Path) -> int:
    """Store one raw Hugging Face daily-papers file (the day is the file name); returns papers."""
    day = date.fromisoformat(path.stem)
    items = json.loads(path.read_text())
    papers, entries = [], []
    for item in items:
        p = item["paper"]
        published = p.get("publishedAt")
        papers.append(
            Paper(
                id=p["id"],
                title=" ".join(p["title"].split()),
                abstract=" ".join(p.get("summary", "").split()),
                authors=[a["name"] for a in p.get("authors", [])],
                published=datetime.fromisoformat(published[:19]) if published else None,
                github_repo=p.get("githubRepo"),
                project_page=p.get("projectPage"),
                ai_summary=p.get("ai_summary"),
                ai_keywords=p.get("ai_keywords") or [],
                upvotes=int(p.get("upvotes") or 0),
                num_comments=int(item.get("numComments") or 0),
            )
        )
        by = (item.get("submittedBy") or {}).get("user") or (item.get("submittedBy") or {}).get(
            "name"
        )
        entries.append(FeedEntry(p["id"], day, by, None, "hf"))
    with db.write() as conn:
        paper_store.upsert_papers(conn, papers)
        feed_store.add_entries(conn, entries)
    return len(papers)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run the app with uvicorn on a free loopback port in a thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

"""The sitemap's cost on a large feed: the index, the days file and one month, against raw SQL.

Usage: python bench/sitemap.py [--papers 300000] [--per-day 500] [--database-url URL] [--reuse]

Fills an empty store (a temporary SQLite file unless --database-url names an empty PostgreSQL
database) with synthetic papers, each featured on one day, per-day papers a day. Then, in one
process, it times the three sitemap answers through the app (TestClient, so the figures include
routing and XML) and, as the baseline, the bare GROUP BY over feed_entries that the index needs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.models import FeedEntry, Paper
from paperfeed.store import open_database
from paperfeed.store.feed import add_entries
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app

BATCH = 5_000


def fill(url: str, papers: int, per_day: int) -> None:
    """Store the synthetic feed."""
    db = open_database(url)
    first = date(2024, 1, 1)
    for start in range(0, papers, BATCH):
        rows, entries = [], []
        for i in range(start, min(papers, start + BATCH)):
            day = first + timedelta(days=i // per_day)
            pid = f"{day:%y%m}.{i % 100000:05d}"
            rows.append(Paper(pid, f"Paper {i}", "An abstract.", ["A. Author"], ["cs.LG"]))
            entries.append(FeedEntry(pid, day, source="hf"))
        with db.write() as conn:
            upsert_papers(conn, rows)
            add_entries(conn, entries)
    db.dispose()


def timed(fn: object, repeats: int) -> tuple[float, float]:
    """Median and worst milliseconds of repeats calls."""
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out), max(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=300_000)
    ap.add_argument("--per-day", type=int, default=500)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--reuse", action="store_true", help="measure a store an earlier run filled")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'sitemap.db'}"
        t = time.perf_counter()
        if not args.reuse:
            fill(url, args.papers, args.per_day)
        db = open_database(url)
        with db.read() as conn:
            n, last = conn.execute(sa.text("SELECT count(*), max(day) FROM feed_entries")).one()
        last = last if isinstance(last, date) else date.fromisoformat(str(last))
        took = time.perf_counter() - t
        print(f"{n:,} featured papers ({url.split(':')[0]}, ready in {took:.0f} s)", flush=True)
        s = Settings(database_url=url, data_dir=tmp, base_url="https://p.example.org")
        client = TestClient(create_app(s, db))
        month = f"{last.replace(day=1) - timedelta(days=1):%Y-%m}"  # the last whole month

        def get(path: str) -> None:
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code)

        def raw() -> None:
            with db.read() as conn:
                conn.execute(sa.text("SELECT day, count(*) FROM feed_entries GROUP BY day")).all()

        rows = [
            ("baseline GROUP BY day", timed(raw, args.repeats)),
            ("/sitemap.xml", timed(lambda: get("/sitemap.xml"), args.repeats)),
            ("/sitemaps/days.xml", timed(lambda: get("/sitemaps/days.xml"), args.repeats)),
            (
                f"/sitemaps/papers/{month}.xml",
                timed(lambda: get(f"/sitemaps/papers/{month}.xml"), args.repeats),
            ),
        ]
        base = rows[0][1][0]
        for name, (p50, worst) in rows:
            print(
                f"{name:34} p50 {p50:8.1f} ms  max {worst:8.1f} ms  x{p50 / base:5.1f}", flush=True
            )
        db.dispose()


if __name__ == "__main__":
    main()

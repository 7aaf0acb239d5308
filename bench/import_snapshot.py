"""Import throughput of the arXiv metadata snapshot format, against a bare sqlite3 executemany.

Usage: python bench/import_snapshot.py [--papers N] [--shared ../shared/data]

Builds a Kaggle-format snapshot file (one JSON object per line, the native layout of
arxiv-metadata-oai-snapshot.json) from the real corpus in shared/data/arxiv_corpus, then in the
same process measures:
  baseline  parse every line with json.loads and insert the same columns with one
            sqlite3 executemany per 1,000 rows in WAL mode (no ids normalised, no merge);
  paperfeed `paperfeed import` code path (pipeline.import_files) into an empty SQLite store.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from paperfeed.pipeline import import_files
from paperfeed.store import open_database


def build_snapshot(shared: Path, n: int, out: Path) -> int:
    """Write up to n corpus papers as Kaggle snapshot lines; return how many."""
    count = 0
    with out.open("w", encoding="utf-8") as fh:
        for part in sorted((shared / "arxiv_corpus").glob("part-*.jsonl.gz")):
            with gzip.open(part, "rt", encoding="utf-8") as src:
                for line in src:
                    o = json.loads(line)
                    day = (o.get("listing_dates") or ["2026-01-01"])[0]
                    created = time.strftime(
                        "%a, %d %b %Y 00:00:00 GMT", time.strptime(day, "%Y-%m-%d")
                    )
                    row = {
                        "id": o["id"],
                        "submitter": None,
                        "authors": ", ".join(o["authors"]),
                        "title": o["title"],
                        "comments": o.get("comment"),
                        "journal-ref": None,
                        "doi": None,
                        "report-no": None,
                        "categories": " ".join(o["categories"]),
                        "license": None,
                        "abstract": o["abstract"],
                        "versions": [{"version": o.get("version") or "v1", "created": created}],
                        "update_date": day,
                        "authors_parsed": [
                            [a.split(" ")[-1], " ".join(a.split(" ")[:-1]), ""]
                            for a in o["authors"]
                        ],
                    }
                    fh.write(json.dumps(row) + "\n")
                    count += 1
                    if count >= n:
                        return count
    return count


def baseline(path: Path, db: Path) -> float:
    """Seconds for json.loads + sqlite3 executemany of the same rows."""
    t = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE papers (id TEXT PRIMARY KEY, title TEXT, abstract TEXT, authors TEXT, "
        "categories TEXT, comments TEXT, doi TEXT, published TEXT)"
    )
    batch: list[tuple] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            o = json.loads(line)
            batch.append(
                (
                    o["id"],
                    o["title"],
                    o["abstract"],
                    o["authors"],
                    o["categories"],
                    o["comments"],
                    o["doi"],
                    o["versions"][0]["created"],
                )
            )
            if len(batch) >= 1000:
                with conn:
                    conn.executemany(
                        "INSERT OR REPLACE INTO papers VALUES (?,?,?,?,?,?,?,?)", batch
                    )
                batch = []
    with conn:
        conn.executemany("INSERT OR REPLACE INTO papers VALUES (?,?,?,?,?,?,?,?)", batch)
    conn.close()
    return time.perf_counter() - t


def main() -> None:
    """Run the benchmark and print figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=50_000)
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "snapshot.jsonl"
        n = build_snapshot(args.shared, args.papers, snap)
        base = baseline(snap, Path(tmp) / "raw.db")
        db = open_database(f"sqlite:///{tmp}/paperfeed.db")
        t = time.perf_counter()
        summary = import_files(db, [snap])
        ours = time.perf_counter() - t
        t = time.perf_counter()
        again = import_files(db, [snap])
        reimport = time.perf_counter() - t
        assert summary.counts.new == n and again.counts.unchanged == n
    print(f"papers: {n}")
    print(f"baseline json.loads + sqlite3 executemany: {base:.2f} s, {n / base:,.0f} papers/s")
    print(f"paperfeed import (empty store):            {ours:.2f} s, {n / ours:,.0f} papers/s")
    print(
        f"paperfeed re-import (all unchanged):       {reimport:.2f} s, {n / reimport:,.0f} papers/s"
    )
    print(f"ratio paperfeed / baseline time: {ours / base:.2f}x")


if __name__ == "__main__":
    main()

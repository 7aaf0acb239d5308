"""Scale benchmark: an N-paper arXiv-snapshot file built from the real corpus, imported into
PostgreSQL and SQLite with paperfeed's import path, then keyword-indexed.

Run from the repository root, e.g.
    .venv/bin/python bench/scale.py --papers 2800000 --shared ../shared/data

Each stage runs in its own subprocess so that its peak RSS (ru_maxrss) is its own. The corpus is
streamed: real titles recombined (first half of one, second half of another of the same primary
category), abstracts of 4-8 real sentences of that category, authors and categories copied from
a real paper (the real category mix); ids YYMM.NNNNN, 20,000 per month, ending in 2026-11.
Vectors are out of scope (embedding 2.8M papers is ~18 h on 2 cores): the index stage is
`run_index(..., embed=False)`, i.e. the keyword index only.

`--keep` leaves the PostgreSQL database and its data dir in place for bench/load.py; otherwise
the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PER_MONTH = 20000
LAST_MONTH = (2026, 11)
FEATURE_EVERY = 40  # ~18 featured papers a day, like HF Daily Papers
UPVOTES = [0, 0, 0, 1, 2, 5, 12, 40]
_SENT = re.compile(r"(?<=[.!?])\s+")


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def month_of(i: int, n: int) -> tuple[int, int]:
    """(year, month) of the i-th of n papers, 20,000 per month, the last month LAST_MONTH."""
    months = (n + PER_MONTH - 1) // PER_MONTH
    k = LAST_MONTH[0] * 12 + LAST_MONTH[1] - 1 - (months - 1) + i // PER_MONTH
    return k // 12, k % 12 + 1


def generate(shared: Path, n: int, out: Path, fmt: str = "export", seed: int = 7) -> int:
    """Stream n synthetic papers as export (or arXiv snapshot) lines into a gzip file."""
    by_cat: dict[str, list[tuple[str, list[str], list[str]]]] = defaultdict(list)
    sents: dict[str, list[str]] = defaultdict(list)
    cats: list[str] = []
    for f in sorted((shared / "arxiv_corpus").glob("part-*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            for line in fh:
                r = json.loads(line)
                cat = r.get("primary_category") or (r["categories"] or ["misc"])[0]
                by_cat[cat].append((r["title"], r["authors"][:8], r["categories"]))
                sents[cat].extend(
                    s for s in _SENT.split(" ".join(r["abstract"].split())) if len(s) > 20
                )
                cats.append(cat)
    for c in cats:
        if not sents[c]:
            sents[c].append("No abstract.")
    rng = random.Random(seed)
    months = (n + PER_MONTH - 1) // PER_MONTH
    if months > (LAST_MONTH[0] - 2015) * 12 + LAST_MONTH[1]:
        raise SystemExit("too many papers for 5-digit ids since 2015-01 at 20,000 a month")
    dow = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    mon = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    import datetime as dt

    with gzip.open(out, "wt", encoding="utf-8", compresslevel=1) as fh:
        for i in range(n):
            y, m = month_of(i, n)
            num = i % PER_MONTH + 1
            day = 1 + (num - 1) * 28 // PER_MONTH
            d = dt.date(y, m, day)
            cat = cats[rng.randrange(len(cats))]
            pool = by_cat[cat]
            a, b = pool[rng.randrange(len(pool))], pool[rng.randrange(len(pool))]
            ta, tb = a[0].split(), b[0].split()
            title = " ".join(ta[: max(1, len(ta) // 2)] + tb[len(tb) // 2 :])
            sp = sents[cat]
            abstract = " ".join(sp[rng.randrange(len(sp))] for _ in range(rng.randint(4, 8)))
            created = f"{dow[d.weekday()]}, {day:02d} {mon[m - 1]} {y} 12:00:00 GMT"
            pid = f"{y % 100:02d}{m:02d}.{num:05d}"
            row: dict[str, Any]
            if fmt == "snapshot":
                row = {
                    "id": pid,
                    "submitter": None,
                    "authors": ", ".join(a[1]),
                    "title": title,
                    "comments": None,
                    "journal-ref": None,
                    "doi": None,
                    "report-no": None,
                    "categories": " ".join(a[2]),
                    "license": None,
                    "abstract": abstract,
                    "versions": [{"version": "v1", "created": created}],
                    "update_date": d.isoformat(),
                    "authors_parsed": [
                        [x.split(" ")[-1], " ".join(x.split(" ")[:-1]), ""] for x in a[1]
                    ],
                }
            else:  # paperfeed export: every FEATURE_EVERY-th paper is on that day's feed
                stamp = f"{d.isoformat()}T12:00:00"
                row = {
                    "paperfeed": 1,
                    "id": pid,
                    "version": 1,
                    "title": title,
                    "abstract": abstract,
                    "authors": a[1],
                    "categories": a[2],
                    "published": stamp,
                    "updated": stamp,
                    "upvotes": rng.choice(UPVOTES),
                    "feed": [{"day": d.isoformat(), "submitted_at": stamp, "source": "import"}]
                    if i % FEATURE_EVERY == 0
                    else [],
                }
            fh.write(json.dumps(row) + "\n")
    return n


def stage(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one stage in this process and return its figures."""
    from paperfeed.config import Settings
    from paperfeed.store import open_database
    from paperfeed.store.papers import count_papers

    corpus = Path(args.work) / f"scale-{args.papers}-{args.format}.jsonl.gz"
    t = time.perf_counter()
    if name == "generate":
        count = generate(Path(args.shared), args.papers, corpus, args.format)
    elif name in ("import-pg", "import-sqlite"):
        from paperfeed.pipeline import import_files

        url = args.pg_url if name == "import-pg" else args.sqlite_url
        db = open_database(url)
        t = time.perf_counter()  # migrations are not the import
        summary = import_files(db, [corpus])
        with db.read() as conn:
            count = count_papers(conn)
        if summary.counts.errors:
            print(f"{name}: {summary.counts.errors} record errors", file=sys.stderr)
    elif name in ("index-pg", "index-sqlite"):
        from paperfeed.search.sync import run_index

        url = args.pg_url if name == "index-pg" else args.sqlite_url
        data = Path(args.work) / f"scale-{args.papers}-{name[6:]}-data"
        db = open_database(url)
        t = time.perf_counter()
        stats = run_index(db, Settings(database_url=url, data_dir=str(data)), embed=False)
        count = stats.lexical_docs
    else:
        raise SystemExit(f"unknown stage {name}")
    secs = time.perf_counter() - t
    return {
        "stage": name,
        "papers": count,
        "seconds": round(secs, 1),
        "papers_per_s": round(count / secs) if secs else None,
        "peak_rss_mb": round(peak_rss_mb()),
    }


def pg(sql: str) -> None:
    """Run one statement on the PostgreSQL admin database (autocommit)."""
    import sqlalchemy as sa

    eng = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(sa.text(sql))
    eng.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=2_800_000)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--work", default=str(ROOT / "bench-data"))
    ap.add_argument("--pg-db", default="bench_scale")
    ap.add_argument("--stages", default="generate,import-pg,import-sqlite,index-pg,index-sqlite")
    ap.add_argument(
        "--format",
        default="export",
        choices=["export", "snapshot"],
        help="paperfeed export (with feed entries and upvotes) or the arXiv snapshot",
    )
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    args.pg_url = f"postgresql://postgres@127.0.0.1:5432/{args.pg_db}"
    args.sqlite_url = f"sqlite:///{work / f'scale-{args.papers}.db'}"
    if args.stage:
        print(json.dumps(stage(args.stage, args)), flush=True)
        return
    stages = args.stages.split(",")
    if "import-pg" in stages:
        pg(f"DROP DATABASE IF EXISTS {args.pg_db}")
        pg(f"CREATE DATABASE {args.pg_db}")
    if "import-sqlite" in stages:
        for suffix in ("", "-wal", "-shm"):
            Path(args.sqlite_url[len("sqlite:///") :] + suffix).unlink(missing_ok=True)
    for name in ("pg", "sqlite"):
        if f"index-{name}" in stages:
            subprocess.run(
                ["rm", "-rf", str(work / f"scale-{args.papers}-{name}-data")], check=True
            )
    results = []
    for name in stages:
        cmd = [sys.executable, __file__, "--stage", name, "--papers", str(args.papers)]
        cmd += ["--shared", args.shared, "--work", args.work, "--pg-db", args.pg_db]
        cmd += ["--format", args.format]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        results.append(res)
        print(json.dumps(res), flush=True)
    corpus = work / f"scale-{args.papers}-{args.format}.jsonl.gz"
    if corpus.exists():
        print(f"corpus file: {corpus.stat().st_size / 2**20:.0f} MiB gzip", flush=True)
    if not args.keep and "import-pg" in stages:
        pg(f"DROP DATABASE IF EXISTS {args.pg_db}")
    (work / f"scale-results-{args.papers}-{args.format}.json").write_text(
        json.dumps(results, indent=1)
    )


if __name__ == "__main__":
    main()

"""PostgreSQL with and without server-side prepared statements: a fresh import, then reads.

Usage: python bench/pg_plans.py [--papers 60000] [--shared ../shared/data]
       [--admin-url postgresql://postgres@127.0.0.1:5432/test]

psycopg prepares a statement on the server after prepare_threshold runs (5 by default), and
PostgreSQL then keeps a generic plan made for the table as it was. paperfeed sets the threshold
to None (store/db.PG_PREPARE_THRESHOLD). This script imports the same snapshot file
(bench/import_snapshot.py's builder) into two fresh databases, one per threshold, and prints
the times. Then, against the second database, it alternates read transactions
(get_papers of 50 ids plus get_paper) between the two thresholds, in one process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from import_snapshot import build_snapshot  # noqa: E402

from paperfeed.pipeline import import_files  # noqa: E402
from paperfeed.store import Database, open_database  # noqa: E402
from paperfeed.store import db as db_module  # noqa: E402
from paperfeed.store import papers as paper_store  # noqa: E402


def fresh(admin_url: str, name: str) -> str:
    """A new, empty database on the server; its URL."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def database(url: str, threshold: int | None) -> Database:
    """A migrated Database whose engine is made now, with this prepare threshold."""
    db_module.PG_PREPARE_THRESHOLD = threshold  # the engine reads it once, when made
    return open_database(url)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=60_000)
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "snapshot.json"
        n = build_snapshot(Path(args.shared), args.papers, snap)
        url = ""
        for threshold in (5, None):
            url = fresh(args.admin_url, f"bench_plans_{threshold or 'none'}")
            db = database(url, threshold)
            t = time.perf_counter()
            import_files(db, [snap])
            took = time.perf_counter() - t
            print(f"import {n:,} papers, prepare_threshold={threshold}: {took:.1f} s", flush=True)
            db.dispose()
        dbs = {t: database(url, t) for t in (5, None)}
        with dbs[None].read() as conn:
            q = "SELECT id FROM papers ORDER BY random() LIMIT 2000"
            ids = [r[0] for r in conn.execute(sa.text(q))]
        ms: dict[int | None, list[float]] = {5: [], None: []}
        for _ in range(args.rounds):
            for threshold, db in dbs.items():
                t = time.perf_counter()
                for i in range(0, len(ids), 50):
                    with db.read() as conn:
                        paper_store.get_papers(conn, ids[i : i + 50])
                        paper_store.get_paper(conn, ids[i])
                ms[threshold].append((time.perf_counter() - t) / (len(ids) / 50) * 1000)
        for threshold, values in ms.items():
            print(
                f"read transaction, prepare_threshold={threshold}: "
                f"{statistics.median(values[1:]):.2f} ms (median of {len(values) - 1} rounds)"
            )
        for db in dbs.values():
            db.dispose()


if __name__ == "__main__":
    main()

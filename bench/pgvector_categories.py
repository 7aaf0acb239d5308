"""Category-filtered pgvector search: the HNSW walk vs ranking every paper, by category size.

Run from the repository root against a folder kept by bench/vectors_pg.py --keep, e.g.
    .venv-test/bin/python bench/pgvector_categories.py --pg-dir bench-data/pg-1m \\
        --shares 0.01,0.0065,0.005,0.003 --queries 40

For each share it takes the category whose size is closest, computes the exact top 10 (every
paper of it ranked, store/pgvectors.exact_nearest) as the truth, and prints recall@10 and
p50/p95 of nearest() forced onto the graph walk and forced onto the exact path, in one process
against one warm server. The pgvector_exact_max setting (default store/pgvectors.EXACT_MAX)
sits where the two cross.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from search import pct, real_embeddings, real_papers  # noqa: E402
from vectors_pg import start_kept  # noqa: E402

from paperfeed.search.embed import get_embedder  # noqa: E402
from paperfeed.store import open_database, pgvectors  # noqa: E402

# Categories and their paper counts (subcategories only: 'cs' alone is an archive).
_SIZES = "SELECT t, count(*) FROM papers, unnest(category_terms) AS t WHERE t LIKE '%.%' GROUP BY t"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg-dir", type=Path, required=True)
    ap.add_argument("--shares", default="0.01,0.005,0.003")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=ROOT / "bench-data")
    args = ap.parse_args()
    real = real_papers(args.shared)
    _, _, titles = real_embeddings(args.work, real, 2000)
    queries = titles[: args.queries]
    emb = get_embedder("minilm")
    server = start_kept(args.pg_dir, ("shared_buffers=2GB",))
    try:
        db = open_database(server.url)
        with db.read() as conn:
            sizes = {t: int(k) for t, k in conn.execute(sa.text(_SIZES)).all()}
            n = int(conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one())
        # A warm-up pass over the graph: a server just started reads its index from disk.
        for q in queries:
            with db.read() as conn:
                pgvectors.nearest(conn, emb.name, emb.dim, q, 200)
        for share in (float(x) for x in args.shares.split(",")):
            cat = min(sizes, key=lambda t: abs(sizes[t] / n - share))
            f = pgvectors.Filters(categories=(cat,))
            truth = []
            for q in queries:
                with db.read() as conn:
                    found = pgvectors.exact_nearest(conn, emb.name, emb.dim, q, 10, f)
                truth.append({p for p, _ in found})
            row: dict[str, object] = {"category": cat, "papers": sizes[cat]}
            for path, cap in (("graph", 0), ("exact", 10**9)):
                lat, hits = [], 0
                for q, want in zip(queries, truth, strict=True):
                    t = time.perf_counter()
                    with db.read() as conn:
                        got = pgvectors.nearest(conn, emb.name, emb.dim, q, 10, f, exact_max=cap)
                    lat.append(time.perf_counter() - t)
                    hits += len({p for p, _ in got} & want)
                row[path] = {
                    "recall_at_10": hits / sum(len(w) for w in truth),
                    "p50_ms": round(pct(lat, 50), 1),
                    "p95_ms": round(pct(lat, 95), 1),
                }
            print(json.dumps(row), flush=True)
        db.dispose()
    finally:
        server.stop()


if __name__ == "__main__":
    main()

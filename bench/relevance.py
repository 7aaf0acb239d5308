"""Relevance of lexical, semantic and hybrid search on judgements built from the real corpus.

Run from the repository root (after or with the same --real/--work as bench/search.py, whose
cached real embeddings it reuses), e.g.
    .venv/bin/python bench/relevance.py --real 5000 --shared ../shared/data

Corpus: --real real papers sampled from <shared>/arxiv_corpus (seed 11), indexed WITHOUT their
titles (abstract, authors, categories only), so a title is a fair query for its own paper.

Task A, known item: the query is a paper's real title; the one relevant document is that paper.
Task B, related papers: the query is a seed paper's title; relevant documents are the other
papers of the same primary category that share at least two rare abstract bigrams (document
frequency 2..30) with the seed's abstract, graded by how many they share (1..3). The seed itself
is left out of its ranking.

Every query goes through paperfeed.search.search() on a real SQLite store, Tantivy index and
usearch index. Reported: nDCG@10 and recall@100 per mode.

Keyphrases extracted here from each ABSTRACT (never the title, which is the query) are stored
and indexed; a mode ending in "-nokw" searches without the keywords field, to measure it.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search import real_embeddings, real_papers  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.models import Paper  # noqa: E402
from paperfeed.search import lexical, search  # noqa: E402
from paperfeed.search.embed import get_embedder  # noqa: E402
from paperfeed.search.keywords import extract_many  # noqa: E402
from paperfeed.search.sync import Layout, search_dir, sync_lexical, sync_vectors  # noqa: E402
from paperfeed.search.vectors import to_bytes  # noqa: E402
from paperfeed.store import keywords as store_keywords  # noqa: E402
from paperfeed.store import open_database  # noqa: E402
from paperfeed.store import vectors as store_vectors  # noqa: E402
from paperfeed.store.papers import upsert_papers  # noqa: E402

STOP = set(
    "a an the of and or in on for to with by from at as is are be we our this that these "
    "which via using based can its it their than into over under between both also such".split()
)


def bigrams(text: str) -> set[tuple[str, str]]:
    """Content-word bigrams of a text."""
    ws = [w for w in re.findall(r"[a-z][a-z0-9\-]+", text.lower())]
    return {(a, b) for a, b in zip(ws, ws[1:], strict=False) if a not in STOP and b not in STOP}


def ndcg_at(ranked: list[str], gains: dict[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain of a ranking at k."""
    dcg = sum(gains.get(pid, 0) / math.log2(i + 2) for i, pid in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], gains: dict[str, int], k: int = 100) -> float:
    """Share of relevant documents in the top k."""
    return len(set(ranked[:k]) & set(gains)) / len(gains) if gains else 0.0


def abstract_keywords(work: Path, sample: list[dict[str, Any]]) -> dict[str, list[list[Any]]]:
    """Keyphrases of each paper from its abstract alone (cached in work)."""
    path = work / f"relevance-keywords-{len(sample)}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    emb = get_embedder("minilm")
    t = time.perf_counter()
    out: dict[str, list[list[Any]]] = {}
    for i in range(0, len(sample), 32):
        part = sample[i : i + 32]
        found = extract_many(emb, [("", r["abstract"]) for r in part])
        for r, ks in zip(part, found, strict=True):
            out[r["id"]] = [[k.phrase, k.score] for k in ks]
    path.write_text(json.dumps(out))
    print(f"extracted keywords of {len(sample)} abstracts in {time.perf_counter() - t:.0f} s")
    return out


def build(work: Path, sample: list[dict[str, Any]], docs: np.ndarray) -> tuple[Settings, Any]:
    """A store of the sampled papers without titles, with their real vectors and indexes."""
    path = work / f"relevance-{len(sample)}.db"
    for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        p.unlink(missing_ok=True)
    s = Settings(
        database_url=f"sqlite:///{path}", data_dir=str(work / f"relevance-{len(sample)}-data")
    )
    db = open_database(s.database_url)
    papers = [
        Paper(
            id=r["id"],
            title="",
            abstract=r["abstract"],
            authors=r["authors"],
            categories=r["categories"],
        )
        for r in sample
    ]
    emb = get_embedder("minilm")
    with db.write() as conn:
        upsert_papers(conn, papers)
        store_vectors.save_vectors(
            conn,
            emb.name,
            emb.dim,
            [(r["id"], to_bytes(v), "bench", 1) for r, v in zip(sample, docs, strict=True)],
        )
        for pid, kws in abstract_keywords(work, sample).items():
            store_keywords.save_keywords(conn, pid, "local", [(k, float(sc)) for k, sc in kws])
    layout = Layout(search_dir(s))
    sync_lexical(db, layout, rebuild=True)
    sync_vectors(db, layout, emb.name, emb.dim, rebuild=True)
    return s, db


def task_b(
    sample: list[dict[str, Any]], seeds: int, rng: random.Random
) -> list[tuple[str, str, dict[str, int]]]:
    """(seed id, query, graded relevant ids) for the related-papers task."""
    grams = {r["id"]: bigrams(r["abstract"]) for r in sample}
    df: Counter[tuple[str, str]] = Counter()
    for g in grams.values():
        df.update(g)
    rare = {r["id"]: {g for g in grams[r["id"]] if 2 <= df[g] <= 30} for r in sample}
    by_gram: dict[tuple[str, str], list[str]] = defaultdict(list)
    for pid, gs in rare.items():
        for g in gs:
            by_gram[g].append(pid)
    cat = {r["id"]: r.get("primary_category") or (r["categories"] or [""])[0] for r in sample}
    out = []
    order = list(sample)
    rng.shuffle(order)
    for r in order:
        shared: Counter[str] = Counter()
        for g in rare[r["id"]]:
            shared.update(p for p in by_gram[g] if p != r["id"] and cat[p] == cat[r["id"]])
        gains = {p: min(n, 3) for p, n in shared.items() if n >= 2}
        if gains:
            out.append((r["id"], r["title"], gains))
        if len(out) >= seeds:
            break
    return out


def evaluate(
    s: Settings,
    db: Any,
    queries: list[tuple[str | None, str, dict[str, int]]],
    modes: dict[str, Settings],
) -> dict[str, dict[str, float]]:
    """Mean nDCG@10 and recall@100 per mode over queries (seed id excluded from its ranking)."""
    out: dict[str, dict[str, float]] = {}
    for name, ms in modes.items():
        mode = name.split("-")[0]
        lexical.KEYWORDS_IN_QUERIES = not name.endswith("-nokw")
        boost = name.rsplit("-kw", 1)[1] if "-kw" in name else ""
        lexical.BOOSTS[lexical.KEYWORDS_FIELD] = float(boost) if boost else lexical.KEYWORDS_BOOST
        nd, rc = [], []
        t = time.perf_counter()
        for seed, text, gains in queries:
            res = search(db, ms, text, mode=mode, limit=100)
            ranked = [h.paper_id for h in res.hits if h.paper_id != seed]
            nd.append(ndcg_at(ranked, gains))
            rc.append(recall_at(ranked, gains))
        out[name] = {
            "ndcg@10": round(float(np.mean(nd)), 4),
            "recall@100": round(float(np.mean(rc)), 4),
            "ms_per_query": round((time.perf_counter() - t) * 1000 / len(queries), 1),
        }
        print(name, json.dumps(out[name]), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=int, default=5000)
    ap.add_argument("--known", type=int, default=1000, help="task A queries")
    ap.add_argument("--seeds", type=int, default=300, help="task B queries")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=ROOT / "bench-data")
    ap.add_argument(
        "--modes", default="", help="comma-separated subset of the modes to run (-kwB: boost B)"
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    real = real_papers(args.shared)
    ids, docs, _titles = real_embeddings(args.work, real, args.real)
    by_id = {r["id"]: r for r in real}
    sample = [by_id[i] for i in ids]
    s, db = build(args.work, sample, docs)
    rng = random.Random(23)
    known = [(None, r["title"], {r["id"]: 1}) for r in rng.sample(sample, args.known)]
    related = task_b(sample, args.seeds, rng)
    modes = {
        "lexical": s,
        "semantic": s,
        "hybrid-weighted-0.7": s.with_(search_fusion="weighted", search_dense_weight=0.7),
        "hybrid-weighted-0.5": s.with_(search_fusion="weighted", search_dense_weight=0.5),
        "hybrid-rrf": s.with_(search_fusion="rrf", search_dense_weight=0.5),
        "lexical-nokw": s,
        "hybrid-weighted-0.5-nokw": s.with_(search_fusion="weighted", search_dense_weight=0.5),
    }
    for b in ("0.1", "0.2", "0.5", "1.0"):  # the keywords field at other boosts
        modes[f"lexical-kw{b}"] = s
        modes[f"hybrid-weighted-0.5-kw{b}"] = modes["hybrid-weighted-0.5-nokw"]
    if args.modes:
        modes = {m: modes[m] for m in args.modes.split(",")}
    results: dict[str, Any] = {"corpus": len(sample)}
    print(f"task A: {len(known)} known-item queries", flush=True)
    results["known_item"] = evaluate(s, db, known, modes)  # type: ignore[arg-type]
    print(f"task B: {len(related)} related-paper queries", flush=True)
    results["related"] = evaluate(s, db, related, modes)  # type: ignore[arg-type]
    out = args.work / f"relevance-results-{len(sample)}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

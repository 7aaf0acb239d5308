"""Recommendation quality: does paperfeed's per-member model find an author's next papers?

Offline task built from the real corpus (<shared>/arxiv_corpus): papers are split by their first
listing date. For each selected author, the profile is their papers listed before the split
(the positives, as if saved to a library) and the targets are their papers listed after it.
Every method ranks the same candidate pool: a random subset of the papers listed after the
split (bounded so the real embedding model can embed it in minutes on 2 cores). Reported:
nDCG@10 and recall@50 (means over authors) and the time per member (train + score).

Methods, in the same run:
  (a) arxiv-sanity-lite: TF-IDF over title+abstract (1-2-grams, 20,000 features, its exact
      vectorizer options), LinearSVC C=0.01 class_weight=balanced, profile positives vs
      everything else (a background sample of earlier papers and the whole pool) as negatives;
  (b) centroid: cosine to the mean of the profile's embeddings;
  (c) paperfeed: paperfeed.recommend.model.train (ridge classifier + nearest-positives term,
      time-decayed positives, sampled earlier papers as negatives) - the production scorer;
  (d) paperfeed+lexical: (c) fused with (a)'s TF-IDF signal (shown for reference).

Run from the repository root (scikit-learn is needed by the baseline only):
    .venv/bin/pip install scikit-learn
    .venv/bin/python bench/recommend.py --shared ../shared/data --pool 5000 --authors 300
Embeddings are cached in bench-data/recommend/ so a rerun skips the embedding step.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

# One BLAS thread: per-member work is small, and threads only contend on a shared machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.recommend import lexical as rec_lexical  # noqa: E402
from paperfeed.recommend import model as rec_model  # noqa: E402
from paperfeed.search.embed import get_embedder, paper_text  # noqa: E402


def load_corpus(shared: Path) -> list[dict[str, Any]]:
    """Every corpus record with a first listing date."""
    out = []
    for part in sorted((shared / "arxiv_corpus").glob("part-*.jsonl.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if r.get("listing_dates"):
                    r["first"] = date.fromisoformat(min(r["listing_dates"]))
                    out.append(r)
    return out


def ndcg_at(ranked: list[int], targets: set[int], k: int) -> float:
    """Binary-relevance nDCG@k."""
    dcg = sum(1.0 / np.log2(i + 2) for i, p in enumerate(ranked[:k]) if p in targets)
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(k, len(targets))))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: list[int], targets: set[int], k: int) -> float:
    """Share of targets in the top k."""
    return len(set(ranked[:k]) & targets) / len(targets)


def embed_all(texts: list[str], spec: str, cache: Path) -> np.ndarray:
    """Embed texts once, cached by their content hash."""
    h = hashlib.sha256(("\n".join(texts) + spec).encode()).hexdigest()[:16]
    path = cache / f"emb-{spec.replace(':', '_')}-{h}.npy"
    if path.exists():
        return np.load(path)
    emb = get_embedder(spec)
    t0 = time.perf_counter()
    out = []
    for i in range(0, len(texts), 64):
        out.append(emb.embed(texts[i : i + 64]))
        if i % 1024 == 0:
            print(f"  embedded {i}/{len(texts)}", file=sys.stderr, flush=True)
    arr = np.vstack(out).astype(np.float32)
    dt = time.perf_counter() - t0
    print(f"  embedded {len(texts)} papers in {dt:.0f} s ({len(texts) / dt:.0f}/s)")
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)
    return arr


def main() -> None:  # noqa: C901 - one linear script
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--split", default="2026-01-01", help="first listing date of the 'later' side")
    ap.add_argument("--pool", type=int, default=5000, help="candidate papers (later side)")
    ap.add_argument("--authors", type=int, default=300)
    ap.add_argument("--background", type=int, default=1000, help="earlier non-profile papers")
    ap.add_argument("--max-profile", type=int, default=20, help="most recent earlier papers kept")
    ap.add_argument("--embed", default="minilm", help="embedder spec (hash for a quick check)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench-data" / "recommend")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--explore", action="store_true", help="also print variants being tried")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    split = date.fromisoformat(args.split)

    t0 = time.perf_counter()
    corpus = load_corpus(args.shared)
    earlier = [r for r in corpus if r["first"] < split]
    later = [r for r in corpus if r["first"] >= split]
    pool = rng.sample(later, min(args.pool, len(later)))
    by_author_early: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in earlier:
        for a in r["authors"]:
            by_author_early[a].append(r)
    by_author_late: dict[str, list[str]] = defaultdict(list)
    for r in pool:
        for a in r["authors"]:
            by_author_late[a].append(r["id"])
    eligible = sorted(
        a
        for a, late in by_author_late.items()
        if len(late) >= 2 and len(by_author_early.get(a, [])) >= 4 and len(a) > 3
    )
    authors = rng.sample(eligible, min(args.authors, len(eligible)))
    profiles = {
        a: sorted(by_author_early[a], key=lambda r: r["first"])[-args.max_profile :]
        for a in authors
    }
    profile_ids = {r["id"] for ps in profiles.values() for r in ps}
    background = rng.sample(
        [r for r in earlier if r["id"] not in profile_ids],
        min(args.background, len(earlier) - len(profile_ids)),
    )
    records: dict[str, dict[str, Any]] = {}
    for r in [*pool, *background, *(r for ps in profiles.values() for r in ps)]:
        records[r["id"]] = r
    ids = sorted(records)
    index = {pid: i for i, pid in enumerate(ids)}
    texts = [paper_text(records[p]["title"], records[p]["abstract"]) for p in ids]
    print(
        f"corpus {len(corpus)} papers, split {split}: {len(earlier)} earlier, {len(later)} later; "
        f"pool {len(pool)}, {len(eligible)} eligible authors, {len(authors)} sampled, "
        f"{len(profile_ids)} profile papers, {len(background)} background; "
        f"{len(ids)} papers to embed ({time.perf_counter() - t0:.1f} s)"
    )
    vecs = embed_all(texts, args.embed, args.work)

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    # arxiv-sanity-lite's vectorizer, verbatim options (compute.py).
    tfidf = TfidfVectorizer(
        input="content",
        encoding="utf-8",
        decode_error="replace",
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_features=20000,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        max_df=0.1,
        min_df=5,
    )
    x_tfidf = tfidf.fit_transform(texts)

    def lex_terms(r: dict[str, Any]) -> Any:
        # Per-paper term counts are cached by id, as the service does across members.
        return rec_lexical.cached_terms(r["id"], paper_text(r["title"], r["abstract"]))

    t_pool = time.perf_counter()
    lex_pool = rec_lexical.LexicalPool([r["id"] for r in pool], [lex_terms(r) for r in pool])
    t_pool = time.perf_counter() - t_pool
    print(f"TF-IDF pool statistics (shared by all members in a pass): {t_pool * 1000:.0f} ms")

    pool_idx = np.array([index[r["id"]] for r in pool])
    bg_idx = np.array([index[r["id"]] for r in background])
    pool_vecs = vecs[pool_idx]
    results: dict[str, list[tuple[float, float, float]]] = defaultdict(list)

    def record(name: str, scores: np.ndarray, targets: set[int], dt: float) -> None:
        order = list(np.argsort(-scores, kind="stable"))
        results[name].append((ndcg_at(order, targets, 10), recall_at(order, targets, 50), dt))

    for a in authors:
        targets = {i for i, r in enumerate(pool) if r["id"] in set(by_author_late[a])}
        prof_idx = np.array([index[r["id"]] for r in profiles[a]])
        age = np.array([(split - r["first"]).days for r in profiles[a]], dtype=np.float32)

        # (a) arxiv-sanity-lite: profile vs everything else (background + pool).
        t = time.perf_counter()
        rows = np.concatenate([prof_idx, bg_idx, pool_idx])
        y = np.zeros(len(rows))
        y[: len(prof_idx)] = 1
        clf = LinearSVC(class_weight="balanced", max_iter=1_000_000, tol=1e-6, C=0.01)
        clf.fit(x_tfidf[rows], y)
        s_svm = clf.decision_function(x_tfidf[pool_idx])
        record("arxiv-sanity-lite (tfidf+svm)", s_svm, targets, time.perf_counter() - t)

        # (b) centroid of the profile's embeddings.
        t = time.perf_counter()
        c = vecs[prof_idx].mean(axis=0)
        c /= np.linalg.norm(c) or 1.0
        record("centroid (embeddings)", pool_vecs @ c, targets, time.perf_counter() - t)

        # (c) paperfeed's scorer, exactly as the service trains it.
        t = time.perf_counter()
        neg_sample = rng.sample(range(len(bg_idx)), min(300, len(bg_idx)))
        ex = rec_model.Examples(
            pos=vecs[prof_idx],
            pos_weight=rec_model.decay_weights(age, 180.0),
            neg=vecs[bg_idx[neg_sample]],
            neg_weight=np.ones(len(neg_sample), dtype=np.float32),
        )
        scorer = rec_model.train(ex)
        s_pf = scorer.score(pool_vecs)
        dt_pf = time.perf_counter() - t
        record("paperfeed embeddings only (ridge + nearest positives)", s_pf, targets, dt_pf)
        t = time.perf_counter()
        lex = lex_pool.score(
            [lex_terms(r) for r in profiles[a]], ex.pos_weight, [r["id"] for r in pool]
        )
        s_full, _ = rec_model.rank_scores(ex, pool_vecs, lexical=lex)
        record(
            "**paperfeed (embeddings + TF-IDF, production scorer)**",
            s_full,
            targets,
            time.perf_counter() - t,
        )

        # (d) paperfeed fused with the TF-IDF signal (reference only).
        z = (s_svm - s_svm.mean()) / (s_svm.std() or 1.0)
        record(
            "paperfeed + tf-idf svm (fused)",
            s_pf + 0.5 * z,
            targets,
            dt_pf + results["arxiv-sanity-lite (tfidf+svm)"][-1][2],
        )

        if args.explore:
            xp = x_tfidf[prof_idx]
            xc = x_tfidf[pool_idx]
            wdec = rec_model.decay_weights(age, 180.0)
            cen = np.asarray((xp.multiply(wdec[:, None])).sum(axis=0)).ravel()
            cen /= np.linalg.norm(cen) or 1.0
            s_tc = xc @ cen
            sims = (xc @ xp.T).toarray()
            k = min(3, sims.shape[1])
            s_tk = -np.sort(-sims, axis=1)[:, :k].mean(axis=1)
            zs = lambda v: (v - v.mean()) / (v.std() or 1.0)  # noqa: E731
            record("x: tfidf centroid", s_tc, targets, 0)
            record("x: tfidf knn3", s_tk, targets, 0)
            record("x: tfidf centroid+knn", zs(s_tc) + 0.5 * zs(s_tk), targets, 0)
            for wl in (0.5, 1.0, 2.0):
                record(
                    f"x: pf + {wl}*(tfidf c+knn)",
                    s_pf + wl * (zs(s_tc) + 0.5 * zs(s_tk)),
                    targets,
                    0,
                )
            record("x: pf + 2*svm", s_pf + 2 * z, targets, 0)
            record("x: pf + tk", s_pf + zs(s_tk), targets, 0)
            record("x: pf + 1.5tk + .5tc", s_pf + 1.5 * zs(s_tk) + 0.5 * zs(s_tc), targets, 0)
            record("x: pf + 2tk + 1tc", s_pf + 2 * zs(s_tk) + 1 * zs(s_tc), targets, 0)
            e_knn = zs(rec_model.knn_term(vecs[prof_idx], pool_vecs))
            record("x: eknn + tk + tc", e_knn + zs(s_tk) + zs(s_tc), targets, 0)
            record("x: pf + tk + tc + svm", s_pf + zs(s_tk) + zs(s_tc) + z, targets, 0)

    print(
        f"\n{len(authors)} authors; pool {len(pool)} later papers; embedder {args.embed}; "
        f"mean targets per author {np.mean([len(by_author_late[a]) for a in authors]):.1f}, "
        f"mean profile size {np.mean([len(profiles[a]) for a in authors]):.1f}\n"
    )
    base = np.array(results["arxiv-sanity-lite (tfidf+svm)"])
    ours = np.array(results["**paperfeed (embeddings + TF-IDF, production scorer)**"])
    boot = np.random.default_rng(args.seed)
    for col, name in ((0, "nDCG@10"), (1, "recall@50")):
        d = ours[:, col] - base[:, col]
        means = [d[boot.integers(0, len(d), len(d))].mean() for _ in range(2000)]
        lo, hi = np.percentile(means, [2.5, 97.5])
        print(
            f"paperfeed - arxiv-sanity-lite {name}: {d.mean():+.3f} "
            f"(95% bootstrap CI over authors {lo:+.3f} .. {hi:+.3f}); "
            f"better for {int((d > 0).sum())} authors, worse for {int((d < 0).sum())}"
        )
    print()
    print("| method | nDCG@10 | recall@50 | ms per member (train + score) |")
    print("|---|---:|---:|---:|")
    for name, rows_ in results.items():
        arr = np.array(rows_)
        print(
            f"| {name} | {arr[:, 0].mean():.3f} | {arr[:, 1].mean():.3f} | "
            f"{1000 * arr[:, 2].mean():.1f} |"
        )


if __name__ == "__main__":
    main()

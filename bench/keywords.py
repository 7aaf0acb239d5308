"""Keyphrases made by paperfeed against Hugging Face's ai_keywords, with YAKE in the same run.

Run from the repository root (YAKE comes with the bench extra: pip install -e '.[bench]'):
    .venv/bin/python bench/keywords.py --shared ../shared/data --papers 1000

Papers: those with ai_keywords in <shared>/hf_daily_papers/*.jsonl.gz, in file order, shuffled
with seed 7. --offset 0 (the default) is the reported slice; the weights in
paperfeed/search/keywords.py were tuned with --offset 1000 --papers 400 (and the mined stopwords from 3000+).

Scores per paper, averaged: exact F1 (a predicted phrase equals a gold phrase, case and white
space folded) and soft F1 (token Jaccard >= 0.5 with some gold phrase; precision counts predicted
phrases that match, recall gold phrases that are matched). Both extractors predict 10 phrases.
ms/paper is wall time over the slice on this machine: for paperfeed what keywords add to the
indexer's embedding pass (batches of 32; see run_paperfeed), for YAKE one paper at a time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.search import keywords  # noqa: E402
from paperfeed.search.embed import get_embedder, paper_text, token_states  # noqa: E402

COUNT = 10
BATCH = 32


def load(shared: Path) -> list[dict[str, Any]]:
    """Papers with HF keywords, deterministic order."""
    rows = []
    seen = set()
    for f in sorted((shared / "hf_daily_papers").glob("*.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            for line in fh:
                d = json.loads(line)
                if d.get("ai_keywords") and d.get("summary") and d["id"] not in seen:
                    seen.add(d["id"])
                    rows.append(d)
    random.Random(7).shuffle(rows)
    return rows


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def _toks(s: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", s.lower()))


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score(pred: list[str], gold: list[str]) -> tuple[float, float]:
    """(exact F1, soft F1) of one paper's predictions."""
    if not pred or not gold:
        return 0.0, 0.0
    ps, gs = {_norm(x) for x in pred}, {_norm(x) for x in gold}
    hit = len(ps & gs)
    exact = _f1(hit / len(ps), hit / len(gs))
    pt, gt = [_toks(x) for x in pred], [_toks(x) for x in gold]

    def match(a: set[str], b: set[str]) -> bool:
        return bool(a | b) and len(a & b) / len(a | b) >= 0.5

    sp = sum(any(match(a, b) for b in gt) for a in pt) / len(pt)
    sr = sum(any(match(a, b) for a in pt) for b in gt) / len(gt)
    return exact, _f1(sp, sr)


def run_paperfeed(rows: list[dict[str, Any]], model: str) -> tuple[list[list[str]], float]:
    """paperfeed's keywords for the rows and their ms per paper on top of the embedding pass.

    `paperfeed index` makes a paper's vector and its keywords in one model pass (token states,
    `search.sync.embed_missing`), so what keywords cost there is that pass minus the bare
    embedding pass it replaces. Both run on every batch, in alternating order, so they share
    the machine's load; the model pass's and the extraction's shares are printed too.
    """
    emb = get_embedder(model)
    emb.embed(["warm up"])
    bare = states_t = extract_t = 0.0
    out: list[list[str]] = []
    for n, i in enumerate(range(0, len(rows), BATCH)):
        part = [(r["title"], r["summary"]) for r in rows[i : i + BATCH]]
        texts = [paper_text(t, a) for t, a in part]
        t0 = time.perf_counter()
        if n % 2:
            emb.embed(texts)
            t1 = time.perf_counter()
            states = token_states(emb, texts)
            t2 = time.perf_counter()
            bare += t1 - t0
            states_t += t2 - t1
        else:
            states = token_states(emb, texts)
            t1 = time.perf_counter()
            emb.embed(texts)
            t2 = time.perf_counter()
            states_t += t1 - t0
            bare += t2 - t1
        t3 = time.perf_counter()
        got = keywords.extract_with_states(part, states, count=COUNT)
        extract_t += time.perf_counter() - t3
        out += [[k.phrase for k in ks] for ks in got]
    ms = 1000 / len(rows)
    added = states_t + extract_t - bare
    print(
        f"paperfeed: embedding pass alone {bare * ms:.1f} ms/paper; shared pass {states_t * ms:.1f}"
        f" (token states) + {extract_t * ms:.1f} (candidates and ranking) = "
        f"{(states_t + extract_t) * ms:.1f} ms/paper standalone; added to the indexer's "
        f"embedding pass: {added * ms:.1f} ms/paper",
        flush=True,
    )
    return out, added * ms


def run_yake(rows: list[dict[str, Any]]) -> tuple[list[list[str]], float]:
    """YAKE's keywords (English, up to 3 words, 10 phrases) and the ms per paper."""
    import yake

    ex = yake.KeywordExtractor(lan="en", n=3, top=COUNT)
    t = time.perf_counter()
    out = [[k for k, _ in ex.extract_keywords(f"{r['title']}. {r['summary']}")] for r in rows]
    return out, (time.perf_counter() - t) * 1000 / len(rows)


def report(name: str, preds: list[list[str]], rows: list[dict[str, Any]], ms: float) -> dict:
    """Mean exact and soft F1 over the rows, printed and returned."""
    s = np.array([score(p, r["ai_keywords"]) for p, r in zip(preds, rows, strict=True)])
    res = {
        "exact_f1": round(float(s[:, 0].mean()), 3),
        "soft_f1": round(float(s[:, 1].mean()), 3),
        "ms_per_paper": round(ms, 1),
    }
    print(name, json.dumps(res), flush=True)
    return res


def write_stopwords(rows: list[dict[str, Any]], path: Path) -> None:
    """Words common in abstracts (in 12+) but inside HF's keywords under 4% of the time."""
    word = re.compile(r"[^\W_](?:[\w\-./'’+]*[^\W_+])?")
    df: Counter[str] = Counter()
    inkw: Counter[str] = Counter()
    for r in rows:
        ws = {w.lower() for w in word.findall(f"{r['title']} {r['summary']}")}
        df.update(ws)
        inkw.update(ws & {w.lower() for k in r["ai_keywords"] for w in word.findall(k)})
    out = sorted(
        w
        for w, n in df.items()
        if n >= 12
        and inkw[w] / n < 0.04
        and w not in keywords.STOPWORDS
        and not re.fullmatch(r"[\d.,%]+", w)
    )
    path.write_text(
        "# Mined by bench/keywords.py --write-stopwords from papers 3000+ of its slice:\n"
        "# words in 12+ abstracts that are inside Hugging Face's keywords under 4% of the time.\n"
        + "\n".join(out)
        + "\n"
    )
    print(f"wrote {len(out)} words to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--papers", type=int, default=1000)
    ap.add_argument("--offset", type=int, default=0, help="1000+ is the tuning slice")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--no-yake", action="store_true")
    ap.add_argument("--write-stopwords", action="store_true", help="mine them from papers 3000+")
    args = ap.parse_args()
    if args.write_stopwords:
        write_stopwords(load(args.shared)[3000:], keywords.MINED_STOPWORDS_FILE)
        return
    rows = load(args.shared)[args.offset : args.offset + args.papers]
    print(f"{len(rows)} papers with HF keywords (offset {args.offset})", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    preds, ms = run_paperfeed(rows, args.model)
    report("paperfeed", preds, rows, ms)
    if not args.no_yake:
        ypreds, yms = run_yake(rows)
        report("yake", ypreds, rows, yms)


if __name__ == "__main__":
    main()

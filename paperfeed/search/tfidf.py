"""Whole-document TF-IDF vectors of papers: sublinear term frequency, corpus idf, unit length."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import tantivy

# The same chain as Tantivy's "en_stem" tokenizer, so terms match the index's term dictionary.
_ANALYZER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)
# Per-field weights of a term occurrence, tuned with bench/similar.py: a title word says more
# about a paper than one abstract mention; a keyphrase was picked as what the paper is about.
FIELD_WEIGHTS = {"title": 2.0, "abstract": 1.0, "keywords": 1.0, "body": 0.2}
MIN_TERM_CHARS = 2  # one-letter stems ("a", "x") are noise

Vector = dict[str, float]


def terms(text: str, *, every: bool = False) -> list[str]:
    """The stemmed, lower-cased terms of a text, as the keyword index stores them.

    Without `every`, one-letter terms are left out (they are noise in a vector, but a phrase
    needs all of its words).
    """
    found = _ANALYZER.analyze(text)
    return list(found) if every else [t for t in found if len(t) >= MIN_TERM_CHARS]


def counts(
    fields: Mapping[str, Iterable[str]], weights: Mapping[str, float] | None = None
) -> Vector:
    """Weighted term counts over a paper's fields (each a list of texts)."""
    weights = weights or FIELD_WEIGHTS
    out: Vector = {}
    get = out.get
    for name, texts in fields.items():
        w = weights.get(name, 0.0)
        if w <= 0:
            continue
        # One analyzer call per field (a comma keeps phrases apart) and one step per distinct
        # term: a paper page re-scores about 150 candidates, and this loop was most of the time.
        for t, c in Counter(_ANALYZER.analyze(" , ".join(texts))).items():
            if len(t) >= MIN_TERM_CHARS:
                out[t] = get(t, 0.0) + w * c
    return out


def vector(tf: Mapping[str, float], idf: Mapping[str, float]) -> Vector:
    """Unit-length TF-IDF vector from weighted counts: (1 + ln tf) * idf, l2-normalised."""
    log = math.log
    raw = {t: (1.0 + log(c) if c >= 1.0 else c) * idf[t] for t, c in tf.items()}
    norm = math.sqrt(sum(v * v for v in raw.values()))
    return {t: v / norm for t, v in raw.items() if v > 0} if norm else {}


def idf_table(num_docs: int, df: Mapping[str, int]) -> dict[str, float]:
    """Smoothed inverse document frequency of each term, ln((1 + N) / (1 + df)) + 1 (sklearn's)."""
    n = max(num_docs, 0)
    return {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two unit-length sparse vectors (their dot product)."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def top_terms(vec: Mapping[str, float], k: int) -> list[tuple[str, float]]:
    """The k heaviest terms of a vector, heaviest first (ties by term, for determinism)."""
    return sorted(vec.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def cosine_to(
    seed: Mapping[str, float], tf: Mapping[str, float], idf: Mapping[str, float]
) -> float:
    """Cosine of a unit vector to the TF-IDF vector of counts, in one pass (no vector built)."""
    log = math.log
    norm2 = dot = 0.0
    for t, c in tf.items():
        v = (1.0 + log(c) if c >= 1.0 else c) * idf[t]
        norm2 += v * v
        s = seed.get(t)
        if s is not None:
            dot += s * v
    return dot / math.sqrt(norm2) if norm2 > 0 else 0.0


def rank(
    seed: Mapping[str, float], others: Mapping[str, Mapping[str, float]], idf: Mapping[str, float]
) -> list[tuple[str, float]]:
    """Other papers (as counts) by TF-IDF cosine to the seed vector, best first, zeros left out."""
    scored = [(pid, cosine_to(seed, tf, idf)) for pid, tf in others.items()]
    return sorted(((p, s) for p, s in scored if s > 0), key=lambda ps: (-ps[1], ps[0]))


def all_terms(vectors: Sequence[Mapping[str, float]]) -> set[str]:
    """Every term of some count vectors (to look up their document frequencies at once)."""
    out: set[str] = set()
    for v in vectors:
        out.update(v)
    return out

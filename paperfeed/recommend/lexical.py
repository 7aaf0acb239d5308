"""A small TF-IDF signal for recommendations: exact wording an author or a field reuses.

On bench/recommend.py, TF-IDF similarity to a member's papers caught what MiniLM embeddings
miss (specific terms, method names), and adding it to the embedding model lifted nDCG@10 from
0.135 to 0.187. It is computed over the local set (the candidate pool plus the positives), in
numpy: document frequencies and an inverted index over the candidate pool are built once per
corpus revision (LexicalPool) and shared by every member; a member's scoring then only
touches the positives' vocabulary (candidates x positive terms), a few milliseconds.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

# A compact English stop list (the frequent function words of sklearn's list).
STOP = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself yourselves however
    thus therefore within without via using use used based show shows propose proposed paper
    new two one first second results result approach method methods""".split()
)
_TOKEN = re.compile(r"\b[a-z_][a-z0-9_]+\b")
MAX_DF = 0.1  # terms in more than 10% of the local set carry no taste (arxiv-sanity-lite too)
MIN_DF = 2
MAX_DF_FROM = 500  # pools smaller than this keep frequent terms
KNN = 3

_CACHE: dict[str, Counter[str]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 100_000  # papers' term counts kept per process (about 1 KB each)


def terms(text: str) -> Counter[str]:
    """Unigram and bigram counts of a text (lower-cased, accents stripped, stop words out)."""
    t = unicodedata.normalize("NFKD", text.lower())
    t = "".join(c for c in t if not unicodedata.combining(c))
    words = [w for w in _TOKEN.findall(t) if w not in STOP]
    c = Counter(words)
    c.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return c


def cached_terms(key: str, text: str) -> Counter[str]:
    """terms(text), remembered per key (a paper id plus a text fingerprint)."""
    with _CACHE_LOCK:
        got = _CACHE.get(key)
    if got is not None:
        return got
    got = terms(text)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = got
    return got


class LexicalPool:
    """TF-IDF statistics and an inverted index over a candidate pool, shared by all members."""

    def __init__(self, ids: Sequence[str], docs: Sequence[Counter[str]]) -> None:
        n = max(1, len(docs))
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        # In a small pool (a new instance, tests) a 10% cut would drop a field's own words.
        max_df = max(MIN_DF, int(MAX_DF * n)) if n >= MAX_DF_FROM else n
        # A term seen once in the pool still links that paper to a positive that uses it.
        self.idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items() if d <= max_df}
        self.row = {pid: i for i, pid in enumerate(ids)}
        self.size = len(ids)
        # The inverted index as one CSR-like structure: postings of term j are
        # docs[start[j]:start[j+1]] with weights vals[...]; built with one pass over the pairs.
        self.term_id: dict[str, int] = {}
        doc_ix: list[int] = []
        term_ix: list[int] = []
        vals: list[float] = []
        idf, tid = self.idf, self.term_id
        for i, doc in enumerate(docs):
            ws = [(t, (1.0 + math.log(tf)) * idf[t]) for t, tf in doc.items() if t in idf]
            norm = math.sqrt(sum(v * v for _, v in ws)) or 1.0
            for t, v in ws:
                j = tid.get(t)
                if j is None:
                    j = tid[t] = len(tid)
                doc_ix.append(i)
                term_ix.append(j)
                vals.append(v / norm)
        terms_arr = np.asarray(term_ix, dtype=np.int64)
        order = np.argsort(terms_arr, kind="stable")
        self._docs = np.asarray(doc_ix, dtype=np.int64)[order]
        self._vals = np.asarray(vals, dtype=np.float32)[order]
        self._start = np.searchsorted(terms_arr[order], np.arange(len(tid) + 1))

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        j = self.term_id.get(term)
        if j is None:
            return None
        a, b = self._start[j], self._start[j + 1]
        return self._docs[a:b], self._vals[a:b]

    def weights(self, doc: Counter[str]) -> dict[str, float]:
        """A document's l2-normalised sublinear tf x idf weights over the pool's kept terms."""
        out = {t: (1.0 + math.log(tf)) * self.idf[t] for t, tf in doc.items() if t in self.idf}
        norm = math.sqrt(sum(v * v for v in out.values()))
        return {t: v / norm for t, v in out.items()} if norm > 0 else {}

    def score(
        self,
        pos: Sequence[Counter[str]],
        pos_weight: np.ndarray,
        cand_ids: Sequence[str],
        extra: dict[str, Counter[str]] | None = None,
        *,
        k: int = KNN,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(nearest-positives mean cosine, centroid cosine) for each candidate id.

        Candidates outside the pool are weighted from `extra` (their term counts).
        """
        pw = [self.weights(d) for d in pos]
        vocab = {t: j for j, t in enumerate(sorted({t for w in pw for t in w}))}
        p = np.zeros((len(pos), max(1, len(vocab))), dtype=np.float32)
        for i, w in enumerate(pw):
            for t, v in w.items():
                p[i, vocab[t]] = v
        c = np.zeros((len(cand_ids), p.shape[1]), dtype=np.float32)
        to_row = np.full(self.size, -1, dtype=np.int64)
        for r, pid in enumerate(cand_ids):
            at = self.row.get(pid)
            if at is not None:
                to_row[at] = r
        for t, j in vocab.items():
            got = self._postings(t)
            if got is None:
                continue
            rows = to_row[got[0]]
            keep = rows >= 0
            c[rows[keep], j] = got[1][keep]
        for r, pid in enumerate(cand_ids):
            if pid not in self.row and extra and pid in extra:
                for t, v in self.weights(extra[pid]).items():
                    if t in vocab:
                        c[r, vocab[t]] = v
        sims = c @ p.T
        kk = min(k, sims.shape[1])
        knn = (
            (-np.partition(-sims, kk - 1, axis=1)[:, :kk]).mean(axis=1)
            if kk and len(c)
            else np.zeros(len(c), dtype=np.float32)
        )
        cen = (p * pos_weight[:, None]).sum(axis=0)
        norm = float(np.linalg.norm(cen))
        return knn, c @ (cen / norm if norm > 0 else cen)

"""Per-member scorers over paper embeddings: a weighted ridge classifier and a centroid fallback.

Everything here is pure numpy on unit vectors. Training solves one d x d linear system
(384 x 384 for MiniLM: well under a millisecond), so a model is made per member and per
collection whenever their library changes, never over the whole corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Weights chosen on bench/recommend.py (author-continuation task, see docs/benchmarks.md).
RIDGE = 1.0  # L2 penalty relative to the (normalised) total sample weight
EXPLICIT_NEGATIVE_WEIGHT = 3.0  # a "not interested" counts as much as three sampled papers
KNN = 3  # the neighbour term averages the similarity to the k closest positives
KNN_WEIGHT = 0.5  # mix of the neighbour term into the linear model's (standardised) score
LEX_KNN_WEIGHT = 1.5  # TF-IDF nearest-positives term (standardised), see lexical.py
LEX_CENTROID_WEIGHT = 0.5  # TF-IDF centroid term (standardised)
MIN_POSITIVES = 3  # fewer than this: centroid fallback
MIN_NEGATIVES = 5


@dataclass(slots=True)
class Examples:
    """Training data: positive and negative vectors (unit rows) with per-example weights."""

    pos: np.ndarray  # (n_pos, d)
    pos_weight: np.ndarray  # (n_pos,) e.g. time decay
    neg: np.ndarray  # (n_neg, d)
    neg_weight: np.ndarray  # (n_neg,)


def decay_weights(age_days: np.ndarray, half_life_days: float, floor: float = 0.25) -> np.ndarray:
    """Weights that halve every half_life_days of age, never below floor (old tastes persist)."""
    if half_life_days <= 0:
        return np.ones_like(age_days, dtype=np.float32)
    w = np.power(0.5, np.maximum(age_days, 0.0) / half_life_days)
    return np.maximum(w, floor).astype(np.float32)


def _standardise(s: np.ndarray) -> np.ndarray:
    sd = float(s.std())
    return (s - float(s.mean())) / (sd if sd > 1e-9 else 1.0)


class Scorer:
    """Something that scores candidate vectors for one member (higher is better)."""

    method = "none"

    def score(self, cand: np.ndarray) -> np.ndarray:
        """One score per candidate row."""
        raise NotImplementedError


class CentroidScorer(Scorer):
    """Cosine to the time-decayed mean of the positives, plus the nearest-positives term."""

    method = "centroid"

    def __init__(self, ex: Examples) -> None:
        c = (ex.pos * ex.pos_weight[:, None]).sum(axis=0)
        n = float(np.linalg.norm(c))
        self.centroid = (c / n if n > 0 else c).astype(np.float32)
        self.pos = ex.pos

    def score(self, cand: np.ndarray) -> np.ndarray:
        """Centroid cosine, blended with the mean similarity to the closest positives."""
        if len(cand) == 0:
            return np.zeros(0, dtype=np.float32)
        s = cand @ self.centroid
        return (_standardise(s) + KNN_WEIGHT * _standardise(knn_term(self.pos, cand))).astype(
            np.float32
        )


class LinearScorer(Scorer):
    """A weighted ridge classifier (closed form) with a nearest-positives term added."""

    method = "model"

    def __init__(self, ex: Examples, *, ridge: float = RIDGE) -> None:
        x = np.vstack([ex.pos, ex.neg]).astype(np.float64)
        y = np.concatenate([np.ones(len(ex.pos)), -np.ones(len(ex.neg))])
        # Balance the classes: both sides carry half the total weight, whatever their sizes.
        wp = ex.pos_weight / max(float(ex.pos_weight.sum()), 1e-9)
        wn = ex.neg_weight / max(float(ex.neg_weight.sum()), 1e-9)
        w = np.concatenate([wp, wn]) * 0.5
        xa = np.hstack([x, np.ones((len(x), 1))])  # bias column
        a = (xa * w[:, None]).T @ xa
        reg = np.eye(a.shape[0]) * (ridge / len(x))
        reg[-1, -1] = 0.0  # the bias is not penalised
        self.coef = np.linalg.solve(a + reg, (xa * w[:, None]).T @ y).astype(np.float32)
        self.pos = ex.pos

    def score(self, cand: np.ndarray) -> np.ndarray:
        """Standardised linear score plus the standardised nearest-positives term."""
        if len(cand) == 0:
            return np.zeros(0, dtype=np.float32)
        lin = cand @ self.coef[:-1] + self.coef[-1]
        return (_standardise(lin) + KNN_WEIGHT * _standardise(knn_term(self.pos, cand))).astype(
            np.float32
        )


def knn_term(pos: np.ndarray, cand: np.ndarray, k: int = KNN) -> np.ndarray:
    """Mean cosine of each candidate to its k most similar positives."""
    sims = cand @ pos.T  # (n_cand, n_pos)
    k = min(k, sims.shape[1])
    if k == 0:
        return np.zeros(len(cand), dtype=np.float32)
    top = -np.partition(-sims, k - 1, axis=1)[:, :k]
    return top.mean(axis=1)


def train(ex: Examples) -> Scorer:
    """The linear model when there are enough examples of both kinds, else the centroid."""
    if len(ex.pos) >= MIN_POSITIVES and len(ex.neg) >= MIN_NEGATIVES:
        return LinearScorer(ex)
    return CentroidScorer(ex)


def nearest_positives(pos: np.ndarray, cand: np.ndarray, k: int = 2) -> np.ndarray:
    """For each candidate, the indexes of its k most similar positives, most similar first."""
    sims = cand @ pos.T
    k = min(k, sims.shape[1])
    idx = np.argsort(-sims, axis=1)[:, :k]
    return idx


def rank_scores(
    ex: Examples,
    cand: np.ndarray,
    *,
    lexical: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, str]:
    """Scores of candidates for one member: the embedding scorer plus the TF-IDF signal.

    lexical is (nearest-positives cosine, centroid cosine) per candidate from LexicalPool.score.
    """
    scorer = train(ex)
    s = scorer.score(cand)
    if lexical is not None and len(lexical[0]) == len(cand):
        knn, cen = lexical
        s = s + LEX_KNN_WEIGHT * _standardise(knn) + LEX_CENTROID_WEIGHT * _standardise(cen)
    return s.astype(np.float32), scorer.method

"""Fusing ranked lists: pure functions over list[Hit], best first in and out."""

from __future__ import annotations

from collections.abc import Sequence

from paperfeed.models import Hit

RRF_K = 60  # the constant from Cormack et al. (2009); damps the head of each list


def rrf(
    lists: Sequence[Sequence[Hit]], *, k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[Hit]:
    """Reciprocal-rank fusion: score = sum of weight / (k + rank) over the lists a paper is in."""
    weights = weights or [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    scores: dict[str, float] = {}
    for hits, w in zip(lists, weights, strict=True):
        for rank, h in enumerate(hits, start=1):
            scores[h.paper_id] = scores.get(h.paper_id, 0.0) + w / (k + rank)
    return _sorted(scores)


def minmax(hits: Sequence[Hit]) -> list[Hit]:
    """Scores rescaled to [0, 1] within the list (all 1.0 when they are equal)."""
    if not hits:
        return []
    lo = min(h.score for h in hits)
    hi = max(h.score for h in hits)
    if hi == lo:
        return [Hit(h.paper_id, 1.0) for h in hits]
    return [Hit(h.paper_id, (h.score - lo) / (hi - lo)) for h in hits]


def weighted(lists: Sequence[Sequence[Hit]], weights: Sequence[float]) -> list[Hit]:
    """Weighted sum of per-list min-max scores; a paper missing from a list gets 0 there."""
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    scores: dict[str, float] = {}
    for hits, w in zip(lists, weights, strict=True):
        if not hits:
            continue
        lo = min(h.score for h in hits)
        span = max(h.score for h in hits) - lo
        for h in hits:
            s = (h.score - lo) / span if span else 1.0
            scores[h.paper_id] = scores.get(h.paper_id, 0.0) + w * s
    return _sorted(scores)


def _sorted(scores: dict[str, float]) -> list[Hit]:
    # Ties break on id so results are deterministic across runs and backends.
    return [Hit(pid, s) for pid, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]

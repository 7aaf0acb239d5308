"""Fusion of ranked lists: pure functions, deterministic, each half can win."""

from __future__ import annotations

import pytest

from paperfeed.models import Hit
from paperfeed.search.fusion import minmax, rrf, weighted

A = [Hit("a", 9.0), Hit("b", 5.0), Hit("c", 1.0)]
B = [Hit("c", 0.9), Hit("d", 0.8), Hit("a", 0.1)]


def test_rrf_rewards_agreement() -> None:
    fused = rrf([A, B])
    assert [h.paper_id for h in fused][:2] == ["a", "c"]  # in both lists
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 63)
    assert {h.paper_id for h in fused} == {"a", "b", "c", "d"}


def test_rrf_weights_and_ties_are_deterministic() -> None:
    assert [h.paper_id for h in rrf([[Hit("x", 1)], [Hit("y", 1)]])] == ["x", "y"]
    assert rrf([[Hit("x", 1)], [Hit("y", 1)]], weights=[1, 2])[0].paper_id == "y"
    with pytest.raises(ValueError):
        rrf([A], weights=[1, 2])


def test_minmax() -> None:
    assert [h.score for h in minmax(A)] == [1.0, 0.5, 0.0]
    assert [h.score for h in minmax([Hit("z", 3), Hit("y", 3)])] == [1.0, 1.0]
    assert minmax([]) == []


def test_weighted_follows_the_heavier_list() -> None:
    dense_heavy = weighted([A, B], [0.9, 0.1])
    lexical_heavy = weighted([A, B], [0.1, 0.9])
    assert dense_heavy[0].paper_id == "a"
    assert lexical_heavy[0].paper_id == "c"
    scores = {h.paper_id: h.score for h in weighted([A, B], [0.5, 0.5])}
    assert scores["a"] == pytest.approx(0.5 * 1.0 + 0.5 * 0.0)
    assert scores["c"] == pytest.approx(0.5 * 0.0 + 0.5 * 1.0)
    assert scores["d"] == pytest.approx(0.5 * (0.8 - 0.1) / 0.8)


def test_empty_lists() -> None:
    assert rrf([[], []]) == []
    assert weighted([[], B], [0.7, 0.3])[0].paper_id == "c"

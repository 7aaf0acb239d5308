"""Per-member scorers and the recommendation service on hash-embedder vectors."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from _recommend_helpers import member, seed, settings_for, topic_id

from paperfeed.digest.compose import SECTIONS, ComposeContext, Period, section_names
from paperfeed.recommend import model as m
from paperfeed.recommend import service
from paperfeed.search.embed import HashEmbedder
from paperfeed.store import Database
from paperfeed.store import library as lib
from paperfeed.store import recommendations as recs
from paperfeed.store import votes as vote_store
from paperfeed.store.subscriptions import Subscription


def _unit(rng: np.random.Generator, center: np.ndarray, n: int, noise: float) -> np.ndarray:
    x = center + noise * rng.standard_normal((n, len(center)))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_linear_model_ranks_the_liked_cluster_above_others() -> None:
    rng = np.random.default_rng(1)
    liked, other = rng.standard_normal(32), rng.standard_normal(32)
    ex = m.Examples(
        pos=_unit(rng, liked, 6, 0.4),
        pos_weight=np.ones(6, dtype=np.float32),
        neg=_unit(rng, other, 40, 0.4),
        neg_weight=np.ones(40, dtype=np.float32),
    )
    scorer = m.train(ex)
    assert isinstance(scorer, m.LinearScorer) and scorer.method == "model"
    cand = np.vstack([_unit(rng, liked, 10, 0.4), _unit(rng, other, 10, 0.4)])
    s = scorer.score(cand)
    assert s[:10].min() > s[10:].max()


def test_too_few_examples_fall_back_to_the_centroid() -> None:
    rng = np.random.default_rng(2)
    liked, other = rng.standard_normal(16), rng.standard_normal(16)
    ex = m.Examples(
        pos=_unit(rng, liked, 2, 0.3),
        pos_weight=np.ones(2, dtype=np.float32),
        neg=np.zeros((0, 16), dtype=np.float32),
        neg_weight=np.zeros(0, dtype=np.float32),
    )
    scorer = m.train(ex)
    assert isinstance(scorer, m.CentroidScorer)
    s = scorer.score(np.vstack([_unit(rng, liked, 3, 0.3), _unit(rng, other, 3, 0.3)]))
    assert s[:3].min() > s[3:].max()


def test_decay_halves_with_age_and_keeps_a_floor() -> None:
    w = m.decay_weights(np.array([0.0, 90.0, 180.0, 10_000.0]), 90.0)
    assert w[0] == pytest.approx(1.0) and w[1] == pytest.approx(0.5)
    assert w[2] == pytest.approx(0.25) and w[3] == pytest.approx(0.25)


def test_decayed_centroid_follows_recent_taste() -> None:
    rng = np.random.default_rng(3)
    old, new = rng.standard_normal(16), rng.standard_normal(16)
    pos = np.vstack([_unit(rng, old, 3, 0.1), _unit(rng, new, 3, 0.1)])
    weights = m.decay_weights(np.array([400.0] * 3 + [1.0] * 3), 30.0)
    ex = m.Examples(pos, weights, np.zeros((0, 16), np.float32), np.zeros(0, np.float32))
    c = m.CentroidScorer(ex)
    assert float(c.centroid @ _unit(rng, new, 1, 0)[0]) > float(
        c.centroid @ _unit(rng, old, 1, 0)[0]
    )


def test_nearest_positives_are_ordered_by_similarity() -> None:
    emb = HashEmbedder(64)
    pos = emb.embed(["galaxy dark matter", "policy reward agent", "image pixels"])
    cand = emb.embed(["policy reward agent exploration"])
    assert list(m.nearest_positives(pos, cand, k=2)[0])[0] == 1


def _save(db: Database, uid: int, collection: str, ids: list[str]) -> int:
    with db.write() as conn:
        col = lib.get_or_create_collection(conn, uid, collection)
        for pid in ids:
            lib.save(conn, uid, pid, [col.id])
    return col.id


def test_service_recommends_the_saved_topic_with_reasons(db: Database, tmp_path: Path) -> None:
    seed(db)
    settings = settings_for(db, tmp_path)
    u = member(db)
    saved = [topic_id("rl", i) for i in range(4)]
    _save(db, u.id, "RL", saved)
    with db.write() as conn:
        lib.hide(conn, u.id, topic_id("rl", 4))  # hidden drops out
        vote_store.add_vote(conn, u.id, topic_id("rl", 5))  # upvoted is a positive, not a rec
    res = service.for_you(db, settings, u.id, limit=10)
    ids = [r.paper.id for r in res.items]
    assert res.method == "model" and res.positives == 5
    assert set(ids[:6]) == {topic_id("rl", i) for i in range(6, 12)}  # every other RL paper
    assert not set(ids) & {*saved, topic_id("rl", 4), topic_id("rl", 5)}
    top = res.items[0]
    assert top.collection == "RL"
    assert "in your collection ‘RL’" in top.reason
    assert top.because and top.because[0].id in {*saved, topic_id("rl", 5)}
    assert top.because[0].title[:20] in top.reason
    # A second read with nothing changed is served from the cache.
    with db.read() as conn:
        run1 = recs.get_run(conn, u.id, "")
    service.for_you(db, settings, u.id)
    with db.read() as conn:
        assert recs.get_run(conn, u.id, "") == run1


def test_a_library_change_refreshes_and_hiding_pushes_neighbours_down(
    db: Database, tmp_path: Path
) -> None:
    seed(db)
    settings = settings_for(db, tmp_path)
    u = member(db)
    _save(db, u.id, "Mixed", [topic_id("rl", 0), topic_id("rl", 1), topic_id("astro", 0)])
    first = service.for_you(db, settings, u.id, limit=30)
    assert first.method == "model"
    with db.write() as conn:
        for i in range(1, 6):
            lib.hide(conn, u.id, topic_id("astro", i))
    assert service.is_stale(db, u.id, "")
    after = service.for_you(db, settings, u.id, limit=30)
    ids = [r.paper.id for r in after.items]
    astro_rank = min(ids.index(p) for p in ids if p.startswith("2601.2"))
    rl_rank = min(ids.index(p) for p in ids if p.startswith("2601.1"))
    assert rl_rank < astro_rank
    assert not {topic_id("astro", i) for i in range(1, 6)} & set(ids)


def test_per_collection_lists_and_the_centroid_fallback(db: Database, tmp_path: Path) -> None:
    seed(db)
    settings = settings_for(db, tmp_path)
    u = member(db)
    rl = _save(db, u.id, "RL", [topic_id("rl", i) for i in range(3)])
    astro = _save(db, u.id, "Stars", [topic_id("astro", 0)])  # one example: centroid
    r_rl = service.for_you(db, settings, u.id, collection_id=rl, limit=5)
    r_astro = service.for_you(db, settings, u.id, collection_id=astro, limit=5)
    assert r_rl.collection == "RL" and r_astro.collection == "Stars"
    assert all(r.paper.id.startswith("2601.1") for r in r_rl.items)
    assert r_astro.method == "centroid"
    assert all(r.paper.id.startswith("2601.2") for r in r_astro.items)
    assert all("‘Stars’" in r.reason for r in r_astro.items)


def test_empty_library_gives_an_empty_list(db: Database, tmp_path: Path) -> None:
    seed(db, 3)
    u = member(db)
    res = service.for_you(db, settings_for(db, tmp_path), u.id)
    assert res.items == [] and res.method == "empty" and res.positives == 0


def test_impressions_on_three_days_drop_a_paper(db: Database, tmp_path: Path) -> None:
    seed(db)
    settings = settings_for(db, tmp_path, recommend_max_impressions=2)
    u = member(db)
    _save(db, u.id, "RL", [topic_id("rl", i) for i in range(3)])
    first = service.for_you(db, settings, u.id, limit=3)
    shown = [r.paper.id for r in first.items]
    service.mark_shown(db, u.id, shown)
    service.mark_shown(db, u.id, shown)  # same day: not a new impression
    with db.read() as conn:
        assert set(lib.impressions(conn, u.id).values()) == {1}
        lib.record_impressions(conn, u.id, shown)  # as if shown again on another day
    later = service.for_you(db, settings, u.id, limit=3)
    assert not set(shown) & {r.paper.id for r in later.items}
    similar = service.for_you(db, settings, u.id, limit=30, keep_seen=True)
    assert set(shown) <= {r.paper.id for r in similar.items}


def test_refresh_all_and_the_digest_section(db: Database, tmp_path: Path) -> None:
    seed(db)
    settings = settings_for(db, tmp_path)
    u, v = member(db), member(db, "bob@example.org")
    _save(db, u.id, "RL", [topic_id("rl", i) for i in range(3)])
    with db.write() as conn:
        vote_store.add_vote(conn, v.id, topic_id("vision", 0))
    rep = service.refresh_all(db, settings)
    assert (rep.members, rep.refreshed, rep.failed) == (2, 3, 0)  # u: overall + RL; v: overall
    again = service.refresh_all(db, settings)
    assert (again.refreshed, again.fresh) == (0, 3)
    assert "recommendations" in section_names()
    sub = Subscription(
        id=1,
        email="ada@example.org",
        status="active",
        frequency="daily",
        sections=["recommendations"],
        searches=[],
        timezone="UTC",
        hour=8,
        unsubscribe_token="t",
        user_id=u.id,
    )
    ctx = ComposeContext(db, settings, service._now())
    period = Period("d:2026-01-05", date(2026, 1, 5), date(2026, 1, 2), date(2026, 1, 5), ctx.now)
    parts = SECTIONS["recommendations"].parts(ctx, sub, period)
    assert parts and parts[0][1] and all(h.paper_id.startswith("2601.1") for h in parts[0][1][:5])
    anon = dataclasses.replace(sub, user_id=None)
    assert SECTIONS["recommendations"].parts(ctx, anon, period) == []


def test_ann_neighbours_of_positives_join_the_newest_papers(
    sqlite_db: Database, tmp_path: Path
) -> None:
    from paperfeed.search.sync import run_index

    seed(sqlite_db)
    # Only the 3 newest papers (one per topic) are in the pool; the rest must come from the ANN.
    settings = settings_for(sqlite_db, tmp_path, recommend_pool=3)
    u = member(sqlite_db)
    _save(sqlite_db, u.id, "RL", [topic_id("rl", i) for i in range(3)])
    without = service.for_you(sqlite_db, settings, u.id, limit=30)
    assert {r.paper.id for r in without.items} <= {
        topic_id(t, 11) for t in ("rl", "astro", "vision")
    }
    run_index(sqlite_db, settings)
    service.refresh(sqlite_db, settings, u.id)
    with_ann = service.for_you(sqlite_db, settings, u.id, limit=30)
    ids = [r.paper.id for r in with_ann.items]
    assert len(ids) > 3
    assert {topic_id("rl", i) for i in range(3, 11)} <= set(ids)

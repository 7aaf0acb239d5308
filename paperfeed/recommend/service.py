"""Compute, cache and read each member's recommendations (overall and per collection).

A refresh reads a bounded candidate pool (the newest papers plus ANN neighbours of the
member's positives), trains the member's scorer on their examples and writes the ranked list
with explanations to the store. Reads only touch that cache; a web request refreshes at most
one member's one scope, and only when their library changed since the last computation.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError
from paperfeed.models import Hit, Paper
from paperfeed.recommend import model as rec_model
from paperfeed.recommend.lexical import LexicalPool, cached_terms
from paperfeed.recommend.profile import (
    OVERALL,
    Positive,
    Profile,
    collection_of_scope,
    load_profile,
    scope_for,
)
from paperfeed.search.embed import paper_text
from paperfeed.store import Database
from paperfeed.store import library as store_library
from paperfeed.store import papers as store_papers
from paperfeed.store import recommendations as store_recs
from paperfeed.store import vectors as store_vectors

log = logging.getLogger(__name__)

NEIGHBOURS_PER_POSITIVE = 20
POSITIVES_FOR_NEIGHBOURS = 50  # the most recent positives seed ANN candidates


def model_name(spec: str) -> str:
    """The stored vectors' model name for an embed_model setting, without loading the model."""
    kind, _, arg = spec.partition(":")
    if kind == "minilm":
        from paperfeed.search.embed import OnnxMiniLM

        return OnnxMiniLM.name
    if kind == "hash":
        return f"hash-{int(arg) if arg.isdigit() else 64}"
    return spec


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(slots=True)
class RefreshResult:
    """What one refresh did."""

    scope: str
    method: str
    positives: int
    negatives: int
    candidates: int
    items: int
    millis: float


def _ann_neighbours(settings: Settings, vectors: list[np.ndarray]) -> list[str]:
    """Paper ids near these vectors in the search ANN index (empty when it is not built)."""
    if not vectors:
        return []
    try:
        from paperfeed.search.service import engine_for

        eng = engine_for(settings)
        eng.refresh()  # pick up an index built since this process last looked
        ann = eng.ann()
        if ann is None:
            return []
        keys: list[int] = []
        for v in vectors:
            keys.extend(k for k, _ in ann.search(v, NEIGHBOURS_PER_POSITIVE))
        return list(dict.fromkeys(eng.lexical.resolve_keys(None, keys).values()))
    except (PaperfeedError, OSError, RuntimeError) as exc:
        log.info("recommend: no ANN candidates (%s)", exc)
        return []


def refresh(
    db: Database, settings: Settings, user_id: int, scope: str = OVERALL, *, seed: int | None = None
) -> RefreshResult:
    """Recompute and store one member's recommendations for one scope."""
    t0 = time.perf_counter()
    model = model_name(settings.embed_model)
    with db.read() as conn:
        key = store_library.profile_key(conn, user_id)
        corpus_rev = store_vectors.max_vector_rev(conn)
        prof = load_profile(
            conn, user_id, scope, max_impressions=settings.recommend_max_impressions
        )
        pos_ids = [p.paper_id for p in prof.positives]
        known = store_recs.vectors_of(conn, [*pos_ids, *prof.hidden], model)
    pool = _recent_pool(db, model, corpus_rev, settings.recommend_pool)
    positives = [p for p in prof.positives if p.paper_id in known]
    cand_vecs: dict[str, bytes] = {pid: v for pid, v, _ in pool}
    if positives:
        recent = sorted(positives, key=lambda p: p.at, reverse=True)[:POSITIVES_FOR_NEIGHBOURS]
        near = _ann_neighbours(settings, [_vec(known[p.paper_id]) for p in recent])
        missing = [pid for pid in near if pid not in cand_vecs]
        if missing:
            with db.read() as conn:
                visible = store_library.existing_ids(conn, missing)
                extra = store_recs.vectors_of(conn, [p for p in missing if p in visible], model)
            cand_vecs.update(extra)
    cand_ids = [pid for pid in cand_vecs if pid not in prof.exclude]
    recs: list[store_recs.StoredRec] = []
    method, n_neg = "empty", 0
    if positives and cand_ids:
        lex_pool = _lexical_pool(db, model, corpus_rev, [pid for pid, _, _ in pool])
        outside = [pid for pid in cand_ids if pid not in lex_pool.row]
        with db.read() as conn:
            texts = store_recs.texts_of(conn, [*(p.paper_id for p in positives), *outside])
        terms = {pid: _terms(pid, t) for pid, t in texts.items()}
        recs, method, n_neg = _rank(
            settings, prof, positives, known, cand_ids, cand_vecs, seed, lex_pool, terms
        )
    with db.write() as conn:
        store_recs.replace(
            conn,
            user_id,
            scope,
            recs,
            profile_key=key,
            corpus_rev=corpus_rev,
            method=method,
            positives=len(positives),
            negatives=n_neg,
        )
    return RefreshResult(
        scope,
        method,
        len(positives),
        n_neg,
        len(cand_ids),
        len(recs),
        (time.perf_counter() - t0) * 1000,
    )


_POOL_LOCK = threading.Lock()
_POOL: dict[tuple[str, str, int, int, str], LexicalPool] = {}


_RECENT: dict[tuple[str, str, int, int], list[tuple[str, bytes, datetime | None]]] = {}


def _recent_pool(
    db: Database, model: str, corpus_rev: int, limit: int
) -> list[tuple[str, bytes, datetime | None]]:
    """The newest papers' vectors, read once per vector revision (every member shares them).

    A paper hidden since is still dropped: cached lists are read joined with papers.hidden.
    """
    key = (db.url, model, corpus_rev, limit)
    with _POOL_LOCK:
        got = _RECENT.get(key)
    if got is not None:
        return got
    with db.read() as conn:
        got = store_recs.recent_vectors(conn, model, limit=limit)
    with _POOL_LOCK:
        _RECENT.clear()
        _RECENT[key] = got
    return got


def _terms(pid: str, text: tuple[str, str]) -> Counter[str]:
    return cached_terms(f"{pid}:{hash(text)}", paper_text(*text))


def _lexical_pool(db: Database, model: str, corpus_rev: int, ids: list[str]) -> LexicalPool:
    """TF-IDF statistics of the newest papers, built once per corpus revision per process."""
    key = (db.url, model, corpus_rev, len(ids), ids[0] if ids else "")
    with _POOL_LOCK:
        got = _POOL.get(key)
    if got is not None:
        return got
    with db.read() as conn:
        texts = store_recs.texts_of(conn, ids)
    pool = LexicalPool(ids, [_terms(pid, texts.get(pid, ("", ""))) for pid in ids])
    with _POOL_LOCK:
        _POOL.clear()  # one pool per process: the newest papers
        _POOL[key] = pool
    return pool


def _vec(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<f4").astype(np.float32)


def _rank(
    settings: Settings,
    prof: Profile,
    positives: list[Positive],
    known: dict[str, bytes],
    cand_ids: list[str],
    cand_vecs: dict[str, bytes],
    seed: int | None,
    lex_pool: LexicalPool,
    terms: dict[str, Counter[str]],
) -> tuple[list[store_recs.StoredRec], str, int]:
    now = _now()
    pos = np.vstack([_vec(known[p.paper_id]) for p in positives])
    age = np.array([(now - p.at).total_seconds() / 86400 for p in positives], dtype=np.float32)
    pos_w = rec_model.decay_weights(age, settings.recommend_half_life_days)
    hidden = [h for h in prof.hidden if h in known]
    # Sampled unseen papers stand in for "everything else": most new papers are not for you.
    rng = random.Random(seed if seed is not None else prof.user_id)
    # From the newest papers only: ANN neighbours of the positives are likely liked, not negative.
    pool = [c for c in cand_ids if c in lex_pool.row] or list(cand_ids)
    sampled = rng.sample(pool, min(settings.recommend_negatives, max(0, len(pool) - 1)))
    neg_parts = [_vec(known[h]) for h in hidden] + [_vec(cand_vecs[s]) for s in sampled]
    neg_w = [rec_model.EXPLICIT_NEGATIVE_WEIGHT] * len(hidden) + [1.0] * len(sampled)
    dim = pos.shape[1]
    ex = rec_model.Examples(
        pos=pos,
        pos_weight=pos_w,
        neg=np.vstack(neg_parts) if neg_parts else np.zeros((0, dim), dtype=np.float32),
        neg_weight=np.array(neg_w, dtype=np.float32),
    )
    cand = np.vstack([_vec(cand_vecs[c]) for c in cand_ids])
    lexical = lex_pool.score(
        [terms.get(p.paper_id, Counter()) for p in positives], pos_w, cand_ids, terms
    )
    scores, method = rec_model.rank_scores(ex, cand, lexical=lexical)
    if hidden:
        # A candidate very close to something the member hid is pushed down hard.
        hid = np.vstack([_vec(known[h]) for h in hidden])
        scores = scores - 2.0 * np.clip((cand @ hid.T).max(axis=1) - 0.8, 0.0, None) / 0.2
    top = np.argsort(-scores, kind="stable")[: settings.recommend_cache_size]
    near = rec_model.nearest_positives(pos, cand[top], k=2)
    out = []
    for row, i in enumerate(top):
        near_pos = [positives[j] for j in near[row]]
        cols = Counter(c for p in near_pos for c in p.collections)
        collection = prof.collection or (cols.most_common(1)[0][0] if cols else None)
        reason = {
            "near": [p.paper_id for p in near_pos],
            "collection": collection,
            "upvoted": [p.paper_id for p in near_pos if p.upvoted and not p.collections],
        }
        out.append(store_recs.StoredRec(cand_ids[int(i)], float(scores[int(i)]), reason))
    return out, method, len(ex.neg)


def is_stale(db: Database, user_id: int, scope: str, *, corpus: bool = False) -> bool:
    """True when the library changed since the cache was made (or, with corpus, new vectors)."""
    with db.read() as conn:
        run = store_recs.get_run(conn, user_id, scope)
        if run is None or run.profile_key != store_library.profile_key(conn, user_id):
            return True
        return corpus and run.corpus_rev < store_vectors.max_vector_rev(conn)


@dataclass(slots=True)
class Recommendation:
    """A recommended paper with its score and the reason shown to the member."""

    paper: Paper
    score: float
    because: list[Paper]  # the member's nearest positives
    collection: str | None
    reason: str


@dataclass(slots=True)
class ForYou:
    """A member's recommendations for one scope and how they were made."""

    scope: str
    collection: str | None
    items: list[Recommendation] = field(default_factory=list)
    method: str = "empty"
    positives: int = 0
    computed_at: datetime | None = None


def _quote(title: str, limit: int = 70) -> str:
    t = " ".join(title.split())
    return f"“{t if len(t) <= limit else t[: limit - 1] + '…'}”"


def explain(because: list[Paper], collection: str | None, upvoted: set[str]) -> str:
    """A one-line reason: 'close to “X” and “Y” in your collection 'RL''."""
    if not because:
        return "new in your fields"
    names = " and ".join(_quote(p.title) for p in because)
    if collection:
        return f"close to {names} in your collection ‘{collection}’"
    if all(p.id in upvoted for p in because):
        return f"close to {names}, which you upvoted"
    return f"close to {names} in your library"


def for_you(
    db: Database,
    settings: Settings,
    user_id: int,
    *,
    collection_id: int | None = None,
    limit: int = 20,
    offset: int = 0,
    refresh_if_stale: bool = True,
    record_impressions: bool = False,
    keep_seen: bool = False,
) -> ForYou:
    """A member's cached recommendations, refreshed first when their library changed."""
    scope = scope_for(collection_id)
    if refresh_if_stale and is_stale(db, user_id, scope):
        try:
            refresh(db, settings, user_id, scope)
        except sa.exc.IntegrityError:
            # Another request of the same member refreshed this list at the same moment.
            log.info("recommend: concurrent refresh for member %s scope %r", user_id, scope)
    with db.read() as conn:
        run = store_recs.get_run(conn, user_id, scope)
        stored = store_recs.get(conn, user_id, scope, limit=settings.recommend_cache_size)
        # The cache may predate a save or a hide made seconds ago: filter at read time too.
        prof = load_profile(
            conn, user_id, scope, max_impressions=settings.recommend_max_impressions
        )
        exclude = prof.exclude
        if keep_seen:
            exclude = (
                store_library.saved_ids(conn, user_id)
                | store_library.hidden_ids(conn, user_id)
                | {p.paper_id for p in prof.positives}
            )
        stored = [r for r in stored if r.paper_id not in exclude][offset : offset + limit]
        need = {r.paper_id for r in stored} | {p for r in stored for p in r.reason.get("near", [])}
        papers = store_papers.get_papers(conn, need)
    res = ForYou(scope, prof.collection)
    if run is not None:
        res.method, res.positives, res.computed_at = run.method, run.positives, run.computed_at
    for r in stored:
        p = papers.get(r.paper_id)
        if p is None:
            continue
        because = [papers[q] for q in r.reason.get("near", []) if q in papers]
        col = r.reason.get("collection")
        upv = set(r.reason.get("upvoted", []))
        res.items.append(Recommendation(p, r.score, because, col, explain(because, col, upv)))
    if record_impressions and res.items:
        mark_shown(db, user_id, [i.paper.id for i in res.items])
    return res


def mark_shown(db: Database, user_id: int, paper_ids: list[str]) -> None:
    """Count one impression per paper per UTC day (a reload is not a new impression)."""
    today = _now().date()
    with db.write() as conn:
        shown_today = store_library.shown_on(conn, user_id, today)
        fresh = [p for p in paper_ids if p not in shown_today]
        if fresh:
            store_library.record_impressions(conn, user_id, fresh)


def hits_for(db: Database, settings: Settings, user_id: int, *, limit: int = 50) -> list[Hit]:
    """Cached overall recommendations as hits (for digests); no refresh, no impressions."""
    with db.read() as conn:
        stored = store_recs.get(conn, user_id, OVERALL, limit=settings.recommend_cache_size)
        prof = load_profile(
            conn, user_id, OVERALL, max_impressions=settings.recommend_max_impressions
        )
    return [Hit(r.paper_id, r.score) for r in stored if r.paper_id not in prof.exclude][:limit]


@dataclass(slots=True)
class RefreshAll:
    """What a worker pass did."""

    members: int = 0
    refreshed: int = 0
    fresh: int = 0
    failed: int = 0
    results: list[RefreshResult] = field(default_factory=list)


def refresh_all(
    db: Database, settings: Settings, *, user_ids: list[int] | None = None, force: bool = False
) -> RefreshAll:
    """Refresh every member's stale scopes (library changed or new papers embedded)."""
    out = RefreshAll()
    with db.read() as conn:
        ids = user_ids if user_ids is not None else store_library.members_with_library(conn)
    for uid in ids:
        out.members += 1
        with db.read() as conn:
            scopes = [OVERALL] + [
                scope_for(c.id) for c in store_library.list_collections(conn, uid)
            ]
        for scope in scopes:
            if not force and not is_stale(db, uid, scope, corpus=True):
                out.fresh += 1
                continue
            try:
                out.results.append(refresh(db, settings, uid, scope))
                out.refreshed += 1
            except Exception:  # one member's failure must not stop everyone else's refresh
                log.exception("recommend: refreshing member %s scope %r failed", uid, scope)
                out.failed += 1
    return out


__all__ = [
    "ForYou",
    "Recommendation",
    "RefreshAll",
    "collection_of_scope",
    "explain",
    "for_you",
    "hits_for",
    "refresh",
    "refresh_all",
    "scope_for",
]

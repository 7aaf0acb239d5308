"""Similar papers on SQLite and PostgreSQL: whole-document TF-IDF, keyphrases, fusion; keyphrases
as a search field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import tantivy
from _search_helpers import load, sample_papers, settings_for

from paperfeed.config import Settings
from paperfeed.models import Hit, Paper
from paperfeed.search import fusion, lexical, search, similar, tfidf
from paperfeed.search.lexical import LexicalIndex
from paperfeed.search.service import similar_signals
from paperfeed.search.sync import Layout, run_index, search_dir, sync_lexical
from paperfeed.store import Database
from paperfeed.store import keywords as store_keywords

SEED = Paper(
    id="2601.00001",
    title="Expert Capacity and Router Load Balancing in Sparse Mixture-of-Experts",
    abstract="Sparse mixture-of-experts layers send each token to a few experts chosen by a "
    "router. When the expert capacity overflows, tokens are dropped; an auxiliary load "
    "balancing loss keeps the router from collapsing onto a few experts. We propose a new "
    "method and show better performance on language model benchmarks.",
    authors=["A. Seed"],
    categories=["cs.LG"],
)
# Shares the distinctive vocabulary (expert capacity, router, load balancing) with the seed.
SPECIFIC = Paper(
    id="2601.00002",
    title="Token Dropping under Expert Capacity Limits",
    abstract="We study how a top-2 router assigns tokens to experts, what expert capacity "
    "overflow does to quality, and how the load balancing loss interacts with dropped tokens.",
    authors=["B. Specific"],
    categories=["cs.CL"],
)
# Shares only the generic words of abstracts (propose, method, performance, language model).
GENERIC = Paper(
    id="2601.00003",
    title="A New Method for Better Language Model Performance",
    abstract="We propose a new method for language models and show better performance on many "
    "language model benchmarks. Our method is simple and our performance is better.",
    authors=["C. Generic"],
    categories=["cs.CL"],
)


def corpus() -> list[Paper]:
    """The three papers above among 60 real ones, so document frequencies mean something."""
    return [SEED, SPECIFIC, GENERIC, *sample_papers(60)]


def ranked(hits: list[Hit]) -> list[str]:
    return [h.paper_id for h in hits]


def test_tfidf_vectors_are_unit_length_sublinear_and_match_the_index_terms() -> None:
    assert tfidf.terms("Running models of GPT-4o") == ["run", "model", "of", "gpt", "4o"]
    tf = tfidf.counts({"title": ["router router"], "abstract": ["router expert"]})
    assert tf == {"router": 2 * tfidf.FIELD_WEIGHTS["title"] + 1.0, "expert": 1.0}
    idf = tfidf.idf_table(100, {"router": 1, "expert": 50, "galaxy": 3})
    v = tfidf.vector(tf, idf)
    assert math.isclose(math.sqrt(sum(x * x for x in v.values())), 1.0)
    # Five occurrences weigh 1 + ln 5 times one, not five times: sublinear.
    raw = {t: v[t] / idf[t] for t in v}
    assert math.isclose(raw["router"] / raw["expert"], 1 + math.log(tf["router"]))
    assert math.isclose(tfidf.cosine(v, v), 1.0)
    assert tfidf.cosine(v, tfidf.vector({"galaxy": 1.0}, idf)) == 0.0


def test_similar_ranks_shared_distinctive_vocabulary_above_generic_words(
    db: Database, tmp_path: Path
) -> None:
    load(db, corpus())
    s = settings_for(db, tmp_path)
    run_index(db, s)
    hits = similar(db, s, SEED.id, k=10)
    order = ranked(hits)
    assert SEED.id not in order
    assert order.index(SPECIFIC.id) < order.index(GENERIC.id) if GENERIC.id in order else True
    assert order[0] == SPECIFIC.id
    # The lexical signal on its own ranks them so too, with real cosines in (0, 1].
    sig = similar_signals(db, s, SEED.id, 30)
    lex = ranked(sig.tfidf)
    assert lex[0] == SPECIFIC.id and lex.index(SPECIFIC.id) < lex.index(GENERIC.id)
    assert all(0 < h.score <= 1.0 + 1e-9 for h in sig.tfidf)
    assert [h.score for h in sig.tfidf] == sorted((h.score for h in sig.tfidf), reverse=True)


def test_similar_is_deterministic_and_each_weight_counts(db: Database, tmp_path: Path) -> None:
    load(db, corpus())
    s = settings_for(db, tmp_path)
    run_index(db, s)
    first = similar(db, s, SEED.id, k=8)
    assert first == similar(db, s, SEED.id, k=8)
    # Equal scores break on paper id, so the order never depends on dict or thread order.
    tie = fusion.weighted([[Hit("b", 1.0), Hit("a", 1.0)], [Hit("a", 0.0), Hit("b", 0.0)]], [1, 1])
    assert ranked(tie) == ["a", "b"]
    only_dense = similar(
        db,
        s.with_(similar_tfidf_weight=0.0, similar_keywords_weight=0.0, similar_body_weight=0.0),
        SEED.id,
        k=8,
    )
    assert ranked(only_dense) == ranked(similar_signals(db, s, SEED.id, 30).dense)[:8]


def test_similar_uses_shared_keyphrases(db: Database, tmp_path: Path) -> None:
    a = Paper(
        id="2602.00001",
        title="Study one",
        abstract="Results on data.",
        ai_keywords=["holographic reservoir computing"],
    )
    b = Paper(
        id="2602.00002",
        title="Study two",
        abstract="Other results on data.",
        ai_keywords=["holographic reservoir computing", "optics"],
    )
    c = Paper(id="2602.00003", title="Study three", abstract="More results on data.")
    load(db, [a, b, c, *sample_papers(20)])
    s = settings_for(db, tmp_path)
    run_index(db, s, embed=False)
    sig = similar_signals(db, s, a.id, 10)
    assert ranked(sig.keywords) == [b.id]
    only_kw = s.with_(similar_dense_weight=0.0, similar_tfidf_weight=0.0, similar_body_weight=0.0)
    assert ranked(similar(db, only_kw, a.id, k=3)) == [b.id]


def test_a_keyphrase_found_only_in_keywords_finds_its_paper(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hf = Paper(
        id="2603.00001",
        title="Small networks",
        abstract="We train a small network.",
        ai_keywords=["holographic reservoir computing"],
    )
    ours = Paper(id="2603.00002", title="Annealing", abstract="We schedule a solver.")
    load(db, [hf, ours, *sample_papers(20)])
    with db.write() as conn:
        store_keywords.save_keywords(conn, ours.id, "local", [("quantum annealing schedule", 1.0)])
    s = settings_for(db, tmp_path)
    run_index(db, s, embed=False)
    for text, pid in (("holographic reservoir", hf.id), ('"quantum annealing"', ours.id)):
        res = search(db, s, text, mode="lexical")
        assert [p.id for p in res.papers] == [pid]
    monkeypatch.setattr(lexical, "KEYWORDS_IN_QUERIES", False)
    assert search(db, s, "holographic reservoir", mode="lexical").papers == []


def test_keyphrases_extracted_in_a_run_reach_the_index_in_that_run(
    db: Database, tmp_path: Path
) -> None:
    load(db, sample_papers(8))
    s = settings_for(db, tmp_path)
    stats = run_index(db, s)
    assert stats.keywords == 8
    layout = Layout(search_dir(s))
    gen = layout.lexical_generation()
    assert gen is not None
    ix = LexicalIndex(layout.lexical_root / gen)
    with db.read() as conn:
        stored = store_keywords.keywords_for(conn, [p.id for p in sample_papers(8)])
    indexed = ix.stored_fields(list(stored))
    for pid, kws in stored.items():
        assert indexed[pid]["keywords"] == [k.keyword for k in kws if k.source == "local"]


def test_an_index_built_before_the_keywords_field_is_rebuilt(
    sqlite_db: Database, tmp_path: Path
) -> None:
    settings = Settings(database_url=sqlite_db.url, data_dir=str(tmp_path), embed_model="hash")
    layout = Layout(search_dir(settings))
    old = layout.lexical_root / "g1"
    old.mkdir(parents=True)
    sb = tantivy.SchemaBuilder()  # the schema before keyphrases were indexed
    for name in ("id", "title", "abstract", "authors", "body"):
        sb.add_text_field(name, stored=True)
    tantivy.Index(sb.build(), path=str(old))
    layout.current.write_text("g1")
    layout.lexical_meta("g1").write_text('{"rev": 0}')
    load(
        sqlite_db,
        [
            Paper(
                id="2604.00001", title="Plain", abstract="Text.", ai_keywords=["zeolite catalysis"]
            )
        ],
    )
    sync_lexical(sqlite_db, layout)
    assert layout.lexical_generation() not in (None, "g1")
    res = search(sqlite_db, settings, "zeolite", mode="lexical")
    assert [p.id for p in res.papers] == ["2604.00001"]

"""Keywords: extraction on real abstracts, storage on both backends, incremental in run_index."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from pathlib import Path

from _search_helpers import PAPERS, load, settings_for

from paperfeed.search import keywords
from paperfeed.search.embed import HashEmbedder, get_embedder
from paperfeed.search.sync import run_index
from paperfeed.store import Database
from paperfeed.store import keywords as store_keywords
from paperfeed.store.papers import get_papers, upsert_papers

SAMPLE = json.loads((Path(__file__).parent / "fixtures" / "hf_keywords_sample.json").read_text())


def test_extraction_on_real_abstracts_is_clean_bounded_and_unique() -> None:
    emb = HashEmbedder()
    for row in SAMPLE:
        got = keywords.extract(emb, row["title"], row["summary"], count=8)
        assert 1 <= len(got) <= 8
        phrases = [k.phrase for k in got]
        assert len({keywords._key(p.lower()) for p in phrases}) == len(phrases)  # no duplicates
        for p in phrases:
            words = p.lower().split()
            assert 1 <= len(words) <= keywords.MAX_WORDS
            assert words[0] not in keywords.STOP and words[-1] not in keywords.STOP
            assert p in f"{row['title']}. {' '.join(row['summary'].split())}"  # verbatim
        assert [k.score for k in got] == sorted((k.score for k in got), reverse=True) or got


def test_latex_and_unicode_do_not_leak_into_keywords() -> None:
    abstract = (
        "We study Schrödinger bridges for $\\mathcal{O}(n \\log n)$ diffusion sampling and "
        "show that \\emph{entropic optimal transport} reaches 3.5% error on CIFAR-10. "
        "The the of and."
    )
    got = [k.phrase for k in keywords.extract(HashEmbedder(), "Schrödinger bridges", abstract)]
    assert got
    assert all("$" not in p and "\\" not in p and "{" not in p for p in got)
    assert any("Schrödinger" in p for p in got)
    assert not any(p.lower() in {"the", "of", "and", "3.5"} for p in got)


def test_real_model_finds_hf_keywords() -> None:
    emb = get_embedder("minilm")
    row = SAMPLE[0]
    got = {k.phrase.lower() for k in keywords.extract(emb, row["title"], row["summary"])}
    gold = {k.lower() for k in row["ai_keywords"]}
    assert got & gold, (got, gold)


def test_storage_keeps_sources_apart(db: Database) -> None:
    load(db)
    pid = PAPERS[0].id
    with db.write() as conn:
        store_keywords.save_keywords(conn, pid, "local", [("sparse attention", 0.9), ("x", 0.1)])
        store_keywords.save_keywords(conn, pid, "hf", [("Sparse Attention", 2.0)])
        store_keywords.save_keywords(
            conn, pid, "local", [("token pruning", 0.8), ("token pruning", 0.7)]
        )
    with db.read() as conn:
        got = store_keywords.keywords_for(conn, [pid, "nope"])[pid]
    assert [(k.source, k.keyword) for k in got] == [
        ("hf", "Sparse Attention"),
        ("local", "token pruning"),
    ]


def test_run_index_extracts_incrementally(db: Database, tmp_path: Path) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    stats = run_index(db, s)
    assert stats.keywords == len(PAPERS)
    with db.read() as conn:
        kws = store_keywords.keywords_for(conn, [p.id for p in PAPERS])
    assert all(any(k.source == "local" for k in kws[p.id]) for p in PAPERS)
    assert run_index(db, s).keywords == 0  # nothing changed: nothing extracted
    changed = replace(
        PAPERS[0],
        abstract=PAPERS[0].abstract + " We add quantum error correction codes.",
        ai_keywords=["quantum error correction"],
    )
    with db.write() as conn:
        upsert_papers(conn, [changed])
    assert run_index(db, s).keywords == 1
    with db.read() as conn:
        got = store_keywords.keywords_for(conn, [changed.id])[changed.id]
    assert [k.keyword for k in got if k.source == "hf"] == ["quantum error correction"]


def test_papers_read_with_their_local_keywords_in_rank_order(db: Database) -> None:
    load(db)
    pid = PAPERS[0].id
    phrases = [(f"phrase {i}", 1.0 - i / 20) for i in range(12)]
    with db.write() as conn:
        store_keywords.save_keywords(conn, pid, "local", phrases)
    with db.read() as conn:
        p = get_papers(conn, [pid])[pid]
    assert p.local_keywords == [k for k, _ in phrases]


def test_cards_and_paper_page_link_local_keywords(db: Database, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    load(db)
    s = settings_for(db, tmp_path)
    run_index(db, s)
    pid = next(p.id for p in PAPERS if not p.ai_keywords)
    with db.read() as conn:
        first = store_keywords.keywords_for(conn, [pid])[pid][0].keyword
    client = TestClient(create_app(s, db=db))
    page = client.get(f"/papers/{pid}").text
    assert "Keywords extracted by paperfeed" in page
    assert html.escape(first) in page and "/search?" in page


def test_digest_items_carry_the_keywords(tmp_path: Path) -> None:
    from paperfeed.config import Settings
    from paperfeed.digest.render import item_view

    p = replace(PAPERS[0], ai_keywords=[], local_keywords=["sparse attention", "token <pruning>"])
    item = item_view(Settings(data_dir=str(tmp_path)), p)
    assert "Keywords: sparse attention, token <pruning>" in item["text"]
    assert "Keywords: sparse attention, token &lt;pruning&gt;" in item["html"]


class _CountingEmbedder(HashEmbedder):
    """The test embedder, counting the texts each kind of model call sees."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []
        self.stated: list[str] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.embedded += list(texts)
        return super().embed(texts)

    def token_states(self, texts):  # type: ignore[no-untyped-def]
        self.stated += list(texts)
        return super().token_states(texts)


def test_one_model_pass_makes_both_the_vector_and_the_keywords(
    db: Database, tmp_path: Path
) -> None:
    load(db)
    emb = _CountingEmbedder()
    stats = run_index(db, settings_for(db, tmp_path), embedder=emb)
    assert stats.embedded == len(PAPERS) and stats.keywords == len(PAPERS)
    # Every paper's text went through the model once, for its vector and its keywords.
    assert len(emb.stated) == len(set(emb.stated)) == len(PAPERS)
    assert emb.embedded == []
    with db.read() as conn:
        kws = store_keywords.keywords_for(conn, [p.id for p in PAPERS])
    expected = keywords.extract_many(HashEmbedder(), [(p.title, p.abstract) for p in PAPERS])
    for p, want in zip(PAPERS, expected, strict=True):
        assert [k.keyword for k in kws[p.id] if k.source == "local"] == [w.phrase for w in want]

"""Derived indexes follow the store on SQLite and PostgreSQL: incremental, hidden papers
removed, crashes lose nothing, readers keep working while the indexer writes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from _search_helpers import PAPERS, load, settings_for

from paperfeed.errors import PaperfeedError
from paperfeed.search import search, similar
from paperfeed.search import sync as sync_mod
from paperfeed.search.embed import HashEmbedder, TokenStates
from paperfeed.search.lexical import LexicalIndex, paper_key
from paperfeed.search.sync import Layout, indexer_lock, run_index, search_dir
from paperfeed.search.vectors import VectorIndex
from paperfeed.store import Database
from paperfeed.store import vectors as store_vectors
from paperfeed.store.papers import set_hidden, upsert_papers


def ids(res: object) -> list[str]:
    return [h.paper_id for h in res.hits]  # type: ignore[attr-defined]


def test_index_then_search_all_modes(db: Database, tmp_path: Path) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    stats = run_index(db, s)
    assert stats.lexical_docs == len(PAPERS)
    assert stats.embedded == len(PAPERS) and stats.vectors == len(PAPERS)
    lex = search(db, s, "diffusion video", mode="lexical")
    assert ids(lex)[0] == "2402.00002"
    assert "<mark>" in lex.snippets["2402.00002"]
    sem = search(db, s, "dark matter halos galaxy", mode="semantic")
    assert ids(sem)[0] == "2503.00003"
    hyb = search(db, s, "sparse attention transformers", mode="hybrid")
    assert set(ids(hyb)[:2]) == {"2505.00005", "2401.00001"}
    assert hyb.mode == "hybrid"
    # Filters, sorting, paging.
    f = search(db, s, 'attention author:"Yann LeCun" cat:cs.CL year:2024', mode="lexical")
    assert ids(f) == ["2401.00001"]
    assert ids(search(db, s, "cat:astro-ph", mode="lexical")) == ["2503.00003"]
    by_votes = search(db, s, "language", mode="lexical", sort="upvotes")
    assert ids(by_votes)[0] == "2504.00004"
    newest = search(db, s, "", mode="hybrid", categories=["cs"], sort="date")
    assert ids(newest)[:2] == ["2505.00005", "2504.00004"]
    p1 = search(db, s, "cat:cs", limit=2, offset=0)
    p2 = search(db, s, "cat:cs", limit=2, offset=2)
    assert p1.total == p2.total == 4 and not set(ids(p1)) & set(ids(p2))
    # An arXiv id or URL jumps to the paper.
    assert search(db, s, "https://arxiv.org/abs/hep-th/9901001v2").redirect_id == "hep-th/9901001"
    # Similar papers: the other sparse-attention paper first, never the paper itself.
    sim = similar(db, s, "2505.00005", k=3)
    assert sim[0].paper_id == "2401.00001" and "2505.00005" not in [h.paper_id for h in sim]


def test_changes_and_hiding_are_followed_incrementally(db: Database, tmp_path: Path) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    run_index(db, s)
    changed = replace(PAPERS[2], title="Neutrino Oscillations in Reactors", version=2)
    with db.write() as conn:
        upsert_papers(conn, [changed, replace(PAPERS[0], upvotes=99)])
        set_hidden(conn, "2402.00002", True)
    stats = run_index(db, s)
    assert stats.lexical_changed == 3
    assert stats.embedded == 1  # only the retitled paper; an upvote change keeps its vector
    assert stats.unchanged_text == 1
    assert ids(search(db, s, "neutrino", mode="lexical")) == ["2503.00003"]
    assert "2402.00002" not in ids(search(db, s, "diffusion video", mode="hybrid"))
    assert "2402.00002" not in ids(search(db, s, "diffusion video", mode="semantic"))
    layout = Layout(search_dir(s))
    ann = VectorIndex.load(layout.ann)
    assert len(ann) == len(PAPERS) - 1 and ann.get(paper_key("2402.00002")) is None
    # Shown again: back in both indexes without re-embedding.
    with db.write() as conn:
        set_hidden(conn, "2402.00002", False)
    stats = run_index(db, s)
    assert stats.embedded == 0
    assert ids(search(db, s, "diffusion video", mode="semantic"))[0] == "2402.00002"
    assert len(VectorIndex.load(layout.ann)) == len(PAPERS)
    # Nothing changed: nothing to do.
    again = run_index(db, s)
    assert (again.lexical_changed, again.embedded, again.ann_changed) == (0, 0, 0)


def test_lexical_search_works_before_embedding(db: Database, tmp_path: Path) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    run_index(db, s, embed=False)
    res = search(db, s, "dark matter", mode="hybrid")
    assert ids(res)[0] == "2503.00003" and res.mode == "lexical"
    assert res.notes and "not ready" in res.notes[0]


class Crash(RuntimeError):
    pass


class CrashingEmbedder(HashEmbedder):
    """Fails on its n-th call, like a process killed in the middle of a run."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at = fail_at

    def embed(self, texts: list[str]) -> np.ndarray:  # type: ignore[override]
        self.calls += 1
        if self.calls == self.fail_at:
            raise Crash("killed")
        return super().embed(texts)

    def token_states(self, texts: list[str]) -> list[TokenStates]:  # type: ignore[override]
        self.calls += 1  # the indexer's model call when keywords share the pass
        if self.calls == self.fail_at:
            raise Crash("killed")
        return super().token_states(texts)


def test_crash_during_embedding_loses_nothing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    monkeypatch.setattr(sync_mod, "EMBED_CHUNK", 2)
    with pytest.raises(Crash):
        run_index(db, s, batch=1, embedder=CrashingEmbedder(fail_at=4))
    with db.read() as conn:
        assert store_vectors.count_vectors(conn, "hash-64") == 2  # the first chunk was saved
    # Keyword search already works, and the lock was released.
    assert ids(search(db, s, "dark matter", mode="lexical"))[0] == "2503.00003"
    stats = run_index(db, s)
    assert stats.embedded == len(PAPERS) - 2
    assert stats.vectors == len(PAPERS)


def test_crash_during_keyword_indexing_catches_up(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    monkeypatch.setattr(sync_mod, "LEXICAL_BATCH", 2)
    real_apply = LexicalIndex.apply
    calls = {"n": 0}

    def flaky(writer: object, changes: object, bodies: object = None) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash("killed")
        return real_apply(writer, changes, bodies)  # type: ignore[arg-type]

    monkeypatch.setattr(LexicalIndex, "apply", staticmethod(flaky))
    with pytest.raises(Crash):
        run_index(db, s, embed=False)
    monkeypatch.setattr(LexicalIndex, "apply", staticmethod(real_apply))
    stats = run_index(db, s, embed=False)
    assert stats.lexical_docs == len(PAPERS)
    assert stats.lexical_changed == len(PAPERS) - 2  # resumed after the committed batch


def test_rebuild_and_readers_during_writes(db: Database, tmp_path: Path) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    run_index(db, s)
    before = ids(search(db, s, "attention", mode="hybrid"))
    layout = Layout(search_dir(s))
    old_gen = layout.lexical_generation()
    # A writer holding Tantivy's lock does not block readers.
    ix = LexicalIndex(layout.lexical_root / str(old_gen))
    writer = ix.writer()
    assert ids(search(db, s, "attention", mode="hybrid")) == before
    writer.rollback()
    del writer
    stats = run_index(db, s, rebuild=True)
    assert stats.rebuilt and stats.lexical_docs == len(PAPERS) and stats.vectors == len(PAPERS)
    assert layout.lexical_generation() != old_gen
    assert ids(search(db, s, "attention", mode="hybrid")) == before


def test_one_indexer_at_a_time(db: Database, tmp_path: Path) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    with indexer_lock(Layout(search_dir(s))):
        with pytest.raises(PaperfeedError, match="another indexer is running"):
            run_index(db, s)


def test_search_before_any_index_says_how_to_fix(db: Database, tmp_path: Path) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    with pytest.raises(PaperfeedError, match="paperfeed index"):
        search(db, s, "attention")
    assert similar(db, s, "2401.00001") == []


def test_index_in_background_for_serve(db: Database, tmp_path: Path) -> None:
    from paperfeed.search.sync import index_in_background

    load(db)
    s = settings_for(db, tmp_path)
    thread = index_in_background(db, s)
    # The keyword index exists as soon as the call returns.
    assert ids(search(db, s, "dark matter", mode="lexical"))[0] == "2503.00003"
    thread.join(timeout=60)
    assert not thread.is_alive()
    res = search(db, s, "dark matter halos galaxy", mode="semantic")
    assert res.mode == "semantic" and ids(res)[0] == "2503.00003"


def test_cli_index_and_search(sqlite_db: Database, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from paperfeed.cli import main

    load(sqlite_db)
    env = {
        "PAPERFEED_DATABASE_URL": sqlite_db.url,
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_EMBED_MODEL": "hash",
    }
    runner = CliRunner()
    r = runner.invoke(main, ["search", "attention"], env=env)
    assert r.exit_code == 2 and "paperfeed index" in r.output
    r = runner.invoke(main, ["index", "--quiet"], env=env)
    assert r.exit_code == 0, r.output
    assert f"keyword index: {len(PAPERS)} papers" in r.output
    r = runner.invoke(main, ["search", "--json", "--mode", "lexical", "dark", "matter"], env=env)
    assert r.exit_code == 0
    first = json.loads(r.stdout.splitlines()[0])
    assert first["id"] == "2503.00003"
    r = runner.invoke(main, ["search", "year:abc"], env=env)
    assert r.exit_code == 2 and "year" in r.output


def test_worker_index_job(sqlite_db: Database, tmp_path: Path) -> None:
    from paperfeed.worker import run_job

    load(sqlite_db)
    s = settings_for(sqlite_db, tmp_path)
    with indexer_lock(Layout(search_dir(s))):
        # Busy (e.g. serve still embedding at start): skipped quietly, not a failure.
        assert run_job(s, sqlite_db, "index", raise_errors=True) == "ran"
    assert run_job(s, sqlite_db, "index", raise_errors=True) == "ran"
    assert ids(search(sqlite_db, s, "dark matter halos", mode="semantic"))[0] == "2503.00003"


def test_more_like_this_uses_distinctive_words_not_common_ones(tmp_path: Path) -> None:
    from paperfeed.models import Paper

    def paper(i: str, title: str, abstract: str) -> Paper:
        return Paper(id=i, title=title, abstract=abstract, authors=[], categories=["cs.LG"])

    # 60 papers share the common words: over 5% of the index, so they must not drive the match.
    filler = [
        paper(f"2401.{n:05d}", f"A model for task {n}", "We propose a model and show results.")
        for n in range(10, 70)
    ]
    target = paper("2402.00001", "Sparse attention for long documents", "A model with results.")
    twin = paper("2402.00002", "Long documents need sparse attention", "Linear attention cost.")
    ix = LexicalIndex(tmp_path / "kw", create=True)
    w = ix.writer()
    LexicalIndex.apply(w, [(p, False) for p in [*filler, target, twin]])
    w.commit()
    ix.reload()
    hits = ix.more_like("2402.00001", limit=5)
    assert [h.paper_id for h in hits] == ["2402.00002"]  # no filler: common words do not count
    assert ix.more_like("2999.00001", limit=5) == []  # not indexed: nothing, not an error


def test_similar_for_a_paper_not_yet_indexed_uses_its_text(db: Database, tmp_path: Path) -> None:
    load(db)
    s = settings_for(db, tmp_path)
    run_index(db, s, embed=False)
    fresh = replace(
        PAPERS[1],
        id="2506.00009",
        title="Dark Matter Halos Revisited",
        abstract="Weak lensing mass profiles of halos in galaxy clusters, against simulations.",
    )
    with db.write() as conn:
        upsert_papers(conn, [fresh])  # harvested after the last index run
    hits = similar(db, s, "2506.00009", k=3)
    assert [h.paper_id for h in hits][:1] == ["2503.00003"]
    assert "2506.00009" not in [h.paper_id for h in hits]


def test_web_processes_map_the_vector_file_and_survive_its_replacement(tmp_path: Path) -> None:
    path = tmp_path / "ann.usearch"
    eye = np.eye(4, dtype=np.float32)
    old = VectorIndex(4)
    old.upsert([1, 2], eye[:2])
    old.save(path)
    view = VectorIndex.load(path, view=True)  # what SearchEngine holds in each web process
    new = VectorIndex(4)
    new.upsert([3], eye[2:3])
    new.save(path)  # the indexer's atomic rename
    assert [k for k, _ in view.search(eye[0], 2)] == [1, 2]  # the old file stays mapped
    assert [k for k, _ in VectorIndex.load(path, view=True).search(eye[2], 1)] == [3]


def test_serve_leaves_a_large_embedding_backlog_to_the_indexer(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from paperfeed.search.sync import index_in_background

    load(db)
    s = settings_for(db, tmp_path).with_(index_on_start_max_embed=len(PAPERS) - 1)
    with caplog.at_level("WARNING"):
        assert index_in_background(db, s) is None  # no embedding thread inside the server
    assert f"{len(PAPERS)} papers need vectors" in caplog.text and "paperfeed index" in caplog.text
    assert ids(search(db, s, "dark matter", mode="lexical"))[0] == "2503.00003"
    with db.read() as conn:
        assert store_vectors.count_vectors(conn, "hash-64") == 0

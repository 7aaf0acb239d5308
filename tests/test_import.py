"""File importers: every supported format, gzip, idempotence and bad lines."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import FIXTURES

from paperfeed import pipeline
from paperfeed.models import Paper
from paperfeed.pipeline import export_jsonl, import_files
from paperfeed.store import Database, open_database
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store
from paperfeed.store import signals as signal_store

SNAPSHOT = FIXTURES / "arxiv-metadata-oai-snapshot.first200.jsonl"
HF_DAYS = sorted((FIXTURES / "hf_raw_days").glob("*.json"))


def test_a_bulk_import_leaves_the_planner_with_statistics(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Until autovacuum got to a freshly filled table, PostgreSQL planned without row counts.
    monkeypatch.setattr(pipeline, "ANALYZE_AFTER", 150)
    import_files(db, [SNAPSHOT])
    with db.read() as conn:
        if db.dialect == "postgresql":
            q = "SELECT reltuples FROM pg_class WHERE oid = to_regclass('papers')"
            assert conn.execute(sa.text(q)).scalar_one() == 200
        else:  # SQLite keeps its built-in estimates: no statistics table appears
            q = "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
            assert conn.execute(sa.text(q)).first() is None


def test_no_statement_keeps_a_plan_made_for_a_smaller_table(pg_url: str) -> None:
    # psycopg prepared a statement on the server after 5 runs, and PostgreSQL then kept one
    # generic plan made while the table was nearly empty: a sequential scan that every later
    # lookup of a growing import repeated (a 60k-paper import: 1.1 s, then 17 s per 5,000).
    db = open_database(pg_url)
    with db.write() as conn:
        for n in range(12):  # one lookup statement, run while the table grows
            batch = [
                Paper(f"2401.{n * 500 + i:05d}", "A title", "An abstract.", ["A. B"], ["cs.LG"])
                for i in range(500)
            ]
            paper_store.upsert_papers(conn, batch)
        kept = conn.execute(sa.text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
    db.dispose()
    assert kept == 0


def test_arxiv_snapshot_imports_every_record_with_versions_and_metadata(db: Database) -> None:
    summary = import_files(db, [SNAPSHOT])
    assert (summary.records, summary.counts.new, summary.errors) == (200, 200, [])
    with db.read() as conn:
        p = paper_store.get_paper(conn, "0704.0001")
    assert p is not None
    assert (
        p.title
        == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert p.authors[0] == "C. Balázs" and len(p.authors) == 4
    assert p.version == 2 and p.categories == ["hep-ph"]
    assert p.doi == "10.1103/PhysRevD.76.013009" and p.journal_ref == "Phys.Rev.D76:013009,2007"
    assert p.published is not None and p.published.date() == date(2007, 4, 2)
    assert p.updated is not None and p.updated.date() == date(2007, 7, 24)
    assert "\n" not in p.abstract.split("\n\n")[0]


def test_hf_raw_days_across_schema_drift(db: Database) -> None:
    summary = import_files(db, HF_DAYS)
    expected = sum(len(json.loads(p.read_text())) for p in HF_DAYS)
    assert summary.records == expected and not summary.errors
    with db.read() as conn:
        day = feed_store.feed_between(conn, date(2026, 8, 21), date(2026, 8, 21), limit=100)
        # Ordered by upvotes, with submitter, repo, keywords and stars kept.
        assert [i.paper.upvotes for i in day] == sorted(
            (i.paper.upvotes for i in day), reverse=True
        )
        top = day[0].paper
        assert top.id == "2608.19880" and top.upvotes == 163
        assert day[0].submitted_by == "taesiri"
        assert top.github_repo == "https://github.com/google-research/envharness"
        assert "EnvHarness" in top.ai_keywords
        assert signal_store.latest(conn, top.id) == {"github_stars": 8.0, "hf_comments": 1.0}
        # 2024 files have no submitter and a different shape, but still land on their day.
        old = feed_store.feed_between(conn, date(2024, 5, 29), date(2024, 5, 29), limit=100)
        assert len(old) == 8 and old[0].submitted_by is None


def test_reimport_is_idempotent_and_gzip_is_detected(db: Database, tmp_path: Path) -> None:
    gz = tmp_path / "snapshot.jsonl.gz"
    with SNAPSHOT.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    import_files(db, [SNAPSHOT])
    again = import_files(db, [gz])
    assert (again.counts.new, again.counts.updated, again.counts.unchanged) == (0, 0, 200)


def test_malformed_lines_are_reported_and_nothing_stored_is_lost(
    db: Database, tmp_path: Path
) -> None:
    import_files(db, [SNAPSHOT])
    bad = tmp_path / "bad.jsonl"
    lines = SNAPSHOT.read_text().splitlines()[:3]
    bad.write_text(
        "\n".join(
            [
                lines[0].replace(
                    '"title":"Calculation', '"title":"<script>alert(1)</script> Calculation'
                ),
                "{not json",
                '["a", "list"]',
                '{"id": "1\' OR 1=1 --", "title": "x", "update_date": "2020-01-01"}',
                '{"id": "0704.0009", "update_date": "2020-01-01"}',
                lines[2],
                lines[1][: len(lines[1]) // 2],  # a truncated last line
            ]
        )
    )
    summary = import_files(db, [bad])
    assert [e.line for e in summary.errors] == [2, 3, 4, 5, 7]
    assert "invalid JSON" in str(summary.errors[0]) and str(bad) in str(summary.errors[0])
    assert "not an arXiv id" in summary.errors[2].message
    with db.read() as conn:
        assert paper_store.count_papers(conn) == 200
        p = paper_store.get_paper(conn, "0704.0001")
    assert p is not None and p.title.startswith("<script>")  # stored as text; pages escape it


def test_export_round_trips_through_import(db: Database, tmp_path: Path) -> None:
    import_files(db, [SNAPSHOT, *HF_DAYS])
    out = tmp_path / "export.jsonl"
    with out.open("w") as fh:
        n = export_jsonl(db, fh)
    with db.read() as conn:
        assert n == paper_store.count_papers(conn)
        entries = feed_store.count_entries(conn)
        original = paper_store.get_paper(conn, "2608.19880")
    from paperfeed.store import open_database

    copy = open_database(f"sqlite:///{tmp_path / 'copy.db'}")
    summary = import_files(copy, [out])
    assert summary.counts.new == n and not summary.errors
    with copy.read() as conn:
        assert feed_store.count_entries(conn) == entries
        assert paper_store.get_paper(conn, "2608.19880") == original


def _export_line(i: int, **fields: object) -> str:
    record: dict[str, object] = {
        "paperfeed": 1,
        "id": f"2401.{i:05d}",
        "title": f"Paper {i}",
        "abstract": "An abstract.",
        "authors": ["Ada Lovelace"],
        "categories": ["cs.CL"],
    }
    record.update(fields)
    return json.dumps(record)


def test_nul_and_lone_surrogates_are_stripped_and_the_batch_is_stored(
    db: Database, tmp_path: Path
) -> None:
    # One hostile line in a 1,000-record batch used to abort the whole batch: a lone surrogate
    # cannot be encoded for SQLite, and PostgreSQL refuses NUL in text.
    hostile = "bad\ud800 \x00text\x1b[31m \x85end"
    lines = [_export_line(i) for i in range(1000)]
    lines[500] = _export_line(
        500, title=hostile, abstract=hostile, authors=[hostile], comments=hostile
    )
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    summary = import_files(db, [path])
    assert (summary.counts.new, summary.errors) == (1000, [])
    with db.read() as conn:
        p = paper_store.get_paper(conn, "2401.00500")
    assert p is not None
    assert p.title == p.abstract == p.authors[0] == p.comments == "bad text[31m end"


def test_records_of_the_wrong_shape_are_reported_with_line_and_reason(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "shapes.jsonl"
    bad = [
        {"authors": [1, 2]},
        {"authors": [{"name": {"nested": True}}]},
        {"authors": "Ada Lovelace, Alan Turing"},
        {"categories": ["cs.CL", "cs<script>"]},
        {"categories": [["cs.CL"]]},
        {"title": ["a", "list"]},
        {"abstract": {"an": "object"}},
        {"published": "yesterday"},
        # (a v1 date that contradicts the id is dropped as unknown; the latest version's is checked)
        {"updated": "0001-01-01T00:00:00"},
        {"upvotes": 10**12},
        {"github_repo": "javascript:alert(1)"},
        {"title": "x" * 5000},
        {"feed": [{"day": "not a day"}]},
        {"feed": "2024-01-01"},
        {"id": "2401.01234v0"},
    ]
    lines = [_export_line(1)] + [_export_line(i + 2, **b) for i, b in enumerate(bad)]
    lines.append(_export_line(99, authors=[{"name": "Grace Hopper"}], categories="cs.AI cs.LG"))
    path.write_text("\n".join(lines))
    summary = import_files(db, [path])
    assert [e.line for e in summary.errors] == list(range(2, 2 + len(bad)))
    assert summary.counts.new == 2 and summary.counts.errors == len(bad)
    reasons = [e.message for e in summary.errors]
    assert reasons[0] == "authors entry 1 must be text or an object with a text name, not int"
    assert reasons[2] == "authors must be a list, not str"
    assert "not an arXiv category" in reasons[3]
    assert reasons[5] == "title must be text, not list"
    assert "outside 1900-2200" in reasons[8]
    assert "not an http(s) URL" in reasons[10]
    assert "title is 5,000 characters long" in reasons[11]
    assert all(str(path) in str(e) for e in summary.errors)
    with db.read() as conn:
        p = paper_store.get_paper(conn, "2401.00099")
    assert p is not None and p.authors == ["Grace Hopper"] and p.categories == ["cs.AI", "cs.LG"]


def test_a_truncated_gzip_stores_the_records_before_the_cut(db: Database, tmp_path: Path) -> None:
    whole = gzip.compress("\n".join(_export_line(i) for i in range(3000)).encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    summary = import_files(db, [cut])
    assert len(summary.errors) == 1
    (error,) = summary.errors
    read = summary.records
    assert 0 < read < 3000 and summary.counts.new == read
    assert str(error) == f"{cut}: truncated gzip after {read} records"

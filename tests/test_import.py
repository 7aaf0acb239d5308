"""File importers: every supported format, gzip, idempotence and bad lines."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

from conftest import FIXTURES

from paperfeed.pipeline import export_jsonl, import_files
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store
from paperfeed.store import signals as signal_store

SNAPSHOT = FIXTURES / "arxiv-metadata-oai-snapshot.first200.jsonl"
HF_DAYS = sorted((FIXTURES / "hf_raw_days").glob("*.json"))


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

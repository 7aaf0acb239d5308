"""First-version dates: a listing or feed day never becomes a v1 date that contradicts the id."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES
from fastapi.testclient import TestClient

from paperfeed import normalize
from paperfeed.config import Settings
from paperfeed.pipeline import import_files
from paperfeed.sources import arxiv_api, arxiv_oai
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.web import create_app

# Real records: 1911.07240 (a 2019 paper) appeared in the astro-ph listing of 2026-06-23;
# 2405.13729 is on the Hub's 2026-05-05 page with publishedAt 2026-04-29 (its HF page's day);
# 2406.00153's v1 was sent on 2024-05-31 after the last May deadline, so June numbered it.
CORPUS_LINE = {
    "id": "1911.07240",
    "title": "A charming ICECUBE discover?",
    "abstract": "Last two years high energy neutrino data are studied.",
    "authors": ["D. Fargion"],
    "categories": ["astro-ph.HE", "hep-ph"],
    "primary_category": "astro-ph.HE",
    "other_classes": [],
    "comment": None,
    "version": "v1",
    "listing_dates": ["2026-06-23"],
    "source": "Straw674/daily-arXiv-astro-ph",
}
HF_LINES = [
    {
        "date": "2026-05-05",
        "id": "2405.13729",
        "title": "A paper the Hub found late",
        "summary": "Abstract.",
        "authors": ["A. Author"],
        "publishedAt": "2026-04-29T00:00:00.000Z",
        "submittedOnDailyAt": "2026-05-05T00:30:36.451Z",
        "upvotes": 3,
    },
    {
        "date": "2024-06-04",
        "id": "2406.00153",
        "title": "A paper sent on the last evening of May",
        "summary": "Abstract.",
        "authors": ["B. Author"],
        "publishedAt": "2024-05-31T19:28:47.000Z",
        "submittedOnDailyAt": "2024-06-04T01:00:00.000Z",
        "upvotes": 5,
    },
]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_id_month_reads_new_and_old_style_ids() -> None:
    assert normalize.id_month("1911.07240") == date(2019, 11, 1)
    assert normalize.id_month("2606.30776") == date(2026, 6, 1)
    assert normalize.id_month("0704.0001") == date(2007, 4, 1)
    assert normalize.id_month("hep-th/9901001") == date(1999, 1, 1)
    assert normalize.id_month("math.AG/0601001") == date(2006, 1, 1)
    assert normalize.id_month("not-an-id") is None


def test_first_version_dates_after_the_id_month_are_unknown() -> None:
    assert normalize.first_version_date("1911.07240", datetime(2026, 6, 23)) is None
    assert normalize.first_version_date("2405.13729", datetime(2026, 4, 29)) is None
    assert normalize.first_version_date("hep-th/9901001", datetime(2024, 5, 20)) is None
    # Before its month is possible (late in the previous month, or held for moderation).
    assert normalize.first_version_date("2406.00153", datetime(2024, 5, 31, 19)) == datetime(
        2024, 5, 31, 19
    )
    assert normalize.first_version_date("1501.05261", datetime(2014, 8, 23)) == datetime(
        2014, 8, 23
    )
    assert (
        normalize.first_version_date("2401.00001", datetime(2024, 2, 1, 3)) is not None
    )  # time zones
    assert normalize.first_version_date("2401.00001", datetime(2024, 2, 3)) is None


def test_listing_day_is_not_a_first_version_date(db: Database, tmp_path: Path) -> None:
    summary = import_files(db, [_write_jsonl(tmp_path / "corpus.jsonl", [CORPUS_LINE])])
    assert summary.counts.new == 1 and not summary.errors
    with db.read() as conn:
        paper = paper_store.get_paper(conn, "1911.07240")
    assert paper is not None and paper.published is None
    app = create_app(Settings(database_url=db.url), db)
    with TestClient(app) as client:
        page = client.get("/papers/1911.07240").text
        bib = client.get("/papers/1911.07240.bib").text
    assert "2026" not in re.sub(r"<[^>]+>", " ", page.split("<main", 1)[1].split("</main>")[0])
    assert "year = {2019}" in bib


def test_hub_published_at_is_kept_only_where_it_fits_the_id(db: Database, tmp_path: Path) -> None:
    import_files(db, [_write_jsonl(tmp_path / "hf.jsonl", HF_LINES)])
    with db.read() as conn:
        late = paper_store.get_paper(conn, "2405.13729")
        early = paper_store.get_paper(conn, "2406.00153")
    assert late is not None and late.published is None
    assert early is not None and early.published == datetime(2024, 5, 31, 19, 28, 47)


def test_an_export_with_a_wrong_first_version_date_imports_it_as_unknown(
    db: Database, tmp_path: Path
) -> None:
    # The sample bundled before this fix carried such dates in paperfeed's own format.
    row = {"paperfeed": 1, "id": "1911.07240", "title": "T", "published": "2026-06-23T00:00:00"}
    import_files(db, [_write_jsonl(tmp_path / "export.jsonl", [row])])
    with db.read() as conn:
        paper = paper_store.get_paper(conn, "1911.07240")
    assert paper is not None and paper.published is None


@pytest.mark.parametrize(
    ("fixture", "tag", "prefix"),
    [
        ("oai_pmh/arXiv_GetRecord_1401.2122_2018-01-26.xml", "created", "arXiv"),
        ("arxiv_api_atom/api2026_id_list=1707.08567.xml", "published", None),
    ],
)
def test_arxiv_formats_drop_a_first_version_dated_after_the_id(
    fixture: str, tag: str, prefix: str | None
) -> None:
    content = (FIXTURES / fixture).read_text(encoding="utf-8")
    moved = re.sub(rf"<{tag}>\d{{4}}-\d\d-\d\d", f"<{tag}>2026-06-23", content, count=1)
    assert moved != content
    for text, wanted in ((content, True), (moved, False)):
        if prefix is None:
            paper = arxiv_api.parse_feed(text.encode()).papers[0]
        else:
            paper = arxiv_oai.parse_list_records(text.encode(), prefix).records[0].paper
        assert (paper.published is not None) is wanted

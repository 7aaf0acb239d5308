"""Library import: BibTeX, RIS and CSL-JSON parsing, matching, per-entry reports, big files."""

from __future__ import annotations

import json

import pytest
from _recommend_helpers import member, seed, topic_id

from paperfeed.errors import ImportFormatError
from paperfeed.models import Paper
from paperfeed.recommend import imports
from paperfeed.store import Database
from paperfeed.store import library as lib
from paperfeed.web.feeds import bibtex


def _statuses(rep: imports.ImportReport) -> list[tuple[str, str]]:
    return [(e.label, e.status) for e in rep.entries]


BIB = r"""
% exported from somewhere
@string{jml = "Journal of ML"}
@article{byEprint,
  title = {Reinforcement {Learning} policy},
  author = {A. Author and B. Author},
  eprint = {2601.10000v2},
  archivePrefix = {arXiv},
}
@misc{byUrl, title = "Something", url = {https://arxiv.org/abs/2601.10001}}
@inproceedings{byJournal, title={X}, journal = {arXiv preprint arXiv:2601.10002}}
@article{byDoi, title = {Whatever}, doi = {10.1000/RL.3}}
@article{byArxivDoi, title = {Whatever}, doi = {10.48550/arXiv.2601.10004}}
@article{dupOfEprint, title = {Again}, note = {arXiv:2601.10000}}
@article{broken, title = {Never closed, author = {Someone}
@article{unknownId, title = {Not here}, eprint = {2312.99999}}
@article{noIds, author = {Nobody}}
@book{byTitle, title = {{Galaxy dark matter halo stellar} alpha 0}, year = 2026}
@article{unknownTitle, title = {A paper this instance never saw}}
"""


def test_bibtex_entries_are_matched_and_reported(db: Database) -> None:
    seed(db)
    u = member(db)
    rep = imports.import_library(db, u.id, BIB.encode(), collection="RL", filename="lib.bib")
    assert rep.format == "bibtex" and rep.committed
    got = dict(_statuses(rep))
    assert got["byEprint"] == got["byUrl"] == got["byJournal"] == "imported"
    assert got["byDoi"] == got["byArxivDoi"] == got["byTitle"] == "imported"
    assert got["dupOfEprint"] == "duplicate"
    assert got["unknownId"] == got["unknownTitle"] == "unknown"
    assert got["noIds"] == "broken"
    broken = [e for e in rep.entries if e.status == "broken"]
    assert any("never closed" in e.detail or "closing" in e.detail for e in broken)
    assert any("line" in e.detail for e in broken)
    assert rep.counts == {"imported": 6, "duplicate": 1, "unknown": 2, "broken": 2}
    assert "6 imported into 'RL'" in rep.summary()
    dup = next(e for e in rep.entries if e.label == "dupOfEprint")
    assert "entry 1" in dup.detail
    with db.read() as conn:
        col = lib.find_collection(conn, u.id, "RL")
        assert col is not None
        saved = {i.paper_id for i in lib.items(conn, u.id, col.id)}
    assert saved == {
        topic_id("rl", 0),
        topic_id("rl", 1),
        topic_id("rl", 2),
        topic_id("rl", 3),
        topic_id("rl", 4),
        topic_id("astro", 0),
    }
    # Importing the same file again: everything matched is now a duplicate, nothing new.
    again = imports.import_library(db, u.id, BIB.encode(), collection="rl")
    assert again.counts["imported"] == 0 and again.counts["duplicate"] == 7


def test_paperfeed_bibtex_export_round_trips(db: Database) -> None:
    papers = seed(db, 3)
    u = member(db)
    text = bibtex(papers)
    rep = imports.import_library(db, u.id, text.encode(), collection="Round trip")
    assert rep.counts["imported"] == len(papers) and rep.counts["broken"] == 0


RIS = """TY  - JOUR
TI  - Reinforcement learning policy gradient agent reward alpha 0
UR  - https://arxiv.org/abs/2601.10005
ER  -
TY  - JOUR
T1  - By DOI only
DO  - 10.1000/astro.2
ER  -
TY  - GEN
TI  - Image segmentation convolutional vision alpha 0
N1  - no identifiers here but the title matches
ER  -
TY  - JOUR
TI  - Unknown paper
DO  - 10.9999/nothing
ER  -
TY  - JOUR
AU  - Nobody, A.
ER  -
TY  - JOUR
TI  - Missing its end
UR  - arXiv:2601.10006
"""


def test_ris_entries(db: Database) -> None:
    seed(db)
    u = member(db)
    rep = imports.import_library(db, u.id, RIS.encode(), collection="RIS", filename="x.ris")
    assert rep.format == "ris"
    assert [e.status for e in rep.entries] == [
        "imported",
        "imported",
        "imported",
        "unknown",
        "broken",
        "imported",
    ]
    assert {e.paper_id for e in rep.entries if e.paper_id} == {
        topic_id("rl", 5),
        topic_id("astro", 2),
        topic_id("vision", 0),
        topic_id("rl", 6),
    }


def test_zotero_csl_json(db: Database) -> None:
    seed(db)
    u = member(db)
    items = [
        {"id": "a", "type": "article", "title": "x", "number": "arXiv:2601.30001"},
        {"id": "b", "type": "article", "title": "y", "URL": "http://arxiv.org/abs/2601.30002v1"},
        {"id": "c", "type": "article-journal", "title": "z", "DOI": "10.1000/vision.3"},
        {"id": "d", "type": "article", "title": "Unknown"},
        {"id": "e", "type": "article"},
        "not an object",
        {"id": "g", "title": "dup", "archive": "arXiv", "number": "2601.30001"},
    ]
    rep = imports.import_library(
        db, u.id, json.dumps(items).encode(), collection="Zotero", filename="My Library.json"
    )
    assert rep.format == "csl-json"
    assert [e.status for e in rep.entries] == [
        "imported",
        "imported",
        "imported",
        "unknown",
        "broken",
        "broken",
        "duplicate",
    ]


def test_a_file_that_cannot_be_read_imports_nothing(db: Database) -> None:
    seed(db, 2)
    u = member(db)
    with pytest.raises(ImportFormatError, match="not valid JSON"):
        imports.import_library(db, u.id, b'[{"title": "x",', collection="Bad", filename="b.json")
    with pytest.raises(ImportFormatError, match="format"):
        imports.import_library(db, u.id, b"just some words", collection="Bad", filename="x")
    with db.read() as conn:
        assert lib.list_collections(conn, u.id) == []  # not even the collection was made


def test_arxiv_ids_in_all_their_forms() -> None:
    f = imports.arxiv_from_text
    assert f("2401.01234v3") == "2401.01234"
    assert f("arXiv:hep-th/9901001") == "hep-th/9901001"
    assert f("https://arxiv.org/pdf/2401.01234v2.pdf") == "2401.01234"
    assert f("arXiv preprint arXiv:2401.01234") == "2401.01234"
    assert f("10.48550/ARXIV.2401.01234") == "2401.01234"
    assert f("Journal of Things 12(3)") is None
    assert imports.doi_from_text("https://doi.org/10.1145/3292500.3330701.") == (
        "10.1145/3292500.3330701"
    )
    assert imports.title_key("{Deep} \\emph{Learning}.") == "deep learning"


def test_a_ten_megabyte_bibtex_file(db: Database) -> None:
    seed(db, 4)
    u = member(db)
    known = [topic_id(t, i) for t in ("rl", "astro", "vision") for i in range(4)]
    pad = "x" * 300
    entries: list[str] = []
    n = size = 0
    while size < 10_000_000:
        pid = known[n % len(known)] if n < 24 else f"2301.{n % 100_000:05d}"
        entries.append(
            f"@article{{k{n},\n  title = {{Entry {n}}},\n  eprint = {{{pid}}},\n"
            f"  archivePrefix = {{arXiv}},\n  abstract = {{{pad}}}\n}}\n"
        )
        size += len(entries[-1])
        n += 1
    entries.insert(5000, "@article{broken5000, title = {oops\n")
    data = "".join(entries).encode()
    assert len(data) >= 10_000_000
    rep = imports.import_library(db, u.id, data, collection="Big", filename="big.bib")
    assert rep.total == n + 1
    assert rep.counts["imported"] == 12 and rep.counts["duplicate"] == 12
    assert rep.counts["broken"] == 1 and rep.counts["unknown"] == n - 24
    assert len(rep.entries) == imports.MAX_REPORT_ROWS and rep.truncated == rep.total - 2000
    with db.read() as conn:
        col = lib.find_collection(conn, u.id, "Big")
        assert col is not None
        assert len(lib.items(conn, u.id, col.id)) == 12


def test_parsing_tolerates_odd_but_valid_bibtex() -> None:
    text = (
        '@Article(paren, title = "Quoted {with} braces", year = 2024, '
        'eprint = "2401.01234")\n'
        "@comment{ignored {nested} }\n"
        '@misc{concat, title = "A" # " B", url = {http://arxiv.org/abs/2401.05678}}\n'
    )
    entries = list(imports.parse_bibtex(text))
    assert [(e.label, e.arxiv_id, e.title) for e in entries] == [
        ("paren", "2401.01234", "Quoted {with} braces"),
        ("concat", "2401.05678", "A B"),
    ]


def test_title_match_needs_a_single_paper(db: Database) -> None:
    seed(db, 1)
    with db.write() as conn:
        from paperfeed.store.papers import upsert_papers

        upsert_papers(
            conn,
            [Paper(id="2601.40000", title="Galaxy dark matter halo stellar alpha 0", abstract="")],
        )
    u = member(db)
    rep = imports.import_library(
        db, u.id, b"@article{t, title = {Galaxy dark matter halo stellar alpha 0}}", collection="T"
    )
    assert [e.status for e in rep.entries] == ["unknown"]  # two papers share it: ambiguous

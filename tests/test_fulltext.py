"""Full text from arXiv's HTML: parser, storage, the fetch job over loopback, search, pages, Markdown."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from _harvest_helpers import (  # noqa: F401 (fixtures)
    ATOM_DIR,
    Reply,
    Request,
    Upstream,
    no_outside_network_fixture,
    settings_for,
    upstream_fixture,
)
from _web_helpers import serve
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import main
from paperfeed.config import Settings
from paperfeed.fulltext import fetch_fulltexts, run_job
from paperfeed.harvest import harvest
from paperfeed.licenses import allows_full_text
from paperfeed.models import Paper
from paperfeed.search import search
from paperfeed.search.sync import run_index
from paperfeed.sources.arxiv_html import parse
from paperfeed.store import Database
from paperfeed.store import fulltexts as store
from paperfeed.store import papers as paper_store
from paperfeed.store.schema import paper_references
from paperfeed.web import create_app

HTML = Path(__file__).resolve().parent / "fixtures" / "arxiv_html"
SERVED = "arxiv.org_html_2501.11120v1.html.gz"
FAILED = "arxiv.org_html_2608.30667v1_failed_conversion.html.gz"
OLD_STYLE = "arxmliv_latexml_astro-ph9710163.html.gz"
MATH_TITLE = "arxmliv_latexml_0903.1000.html.gz"
TUMBLER = "arxmliv_latexml_1307.8133.html.gz"
# A phrase only in the body of 2501.11120 (section 3.2.1, "Make Me Say rules"), not its abstract.
BODY_PHRASE = "manipulator"
CC_BY = "http://creativecommons.org/licenses/by/4.0/"


def page(name: str) -> bytes:
    return gzip.decompress((HTML / name).read_bytes())


# --- the parser, on every fixture ---


def test_arxiv_2025_page_sections_math_and_bibliography() -> None:
    ft = parse(page(SERVED))
    assert ft is not None
    assert ft.title == "Tell me about yourself: LLMs are aware of their learned behaviors"
    top = [s.label for s in ft.sections if s.level == 1]
    assert top[:9] == [
        "1 Introduction",
        "2 Out-of-context reasoning",
        "3 Awareness of behaviors",
        "4 Awareness of backdoors",
        "5 Multi-Persona experiments",
        "6 Related work",
        "7 Discussion",
        "8 Conclusion",
        "Acknowledgments",
    ]
    assert top[9] == "A Author contributions"  # appendices are numbered by letter
    nested = {s.label: s.level for s in ft.sections}
    assert nested["3.1 Finetuning on multiple-choice responses (economic decisions)"] == 2
    assert nested["3.1.1 Design"] == 3
    assert nested["Make Me Say rules"] == 4
    assert len(ft.sections) == 89
    # Math stays MathML, without LaTeXML's Content MathML, ids or TeX annotations.
    body = "\n".join(s.html for s in ft.sections)
    assert body.count("<math") > 100
    assert "annotation" not in body and "xref" not in body and ' id="' not in body
    assert "ltx_ERROR" not in body and "ltx_" not in body
    assert 'class="ft-caption">Figure 1:' in body and 'class="ft-caption">Table 1:' in body
    # The bibliography: 48 entries, 17 of them linking arxiv.org/abs (34 mentions, href + text),
    # and 18 more naming "arXiv:<id>" in their text.
    assert len(ft.references) == 48
    assert [r.position for r in ft.references] == list(range(1, 49))
    linked = set(re.findall(r"arxiv\.org/abs/([0-9.]+)", page(SERVED).decode()))
    assert len(linked) == 17
    ids = {r.arxiv_id for r in ft.references if r.arxiv_id}
    assert linked <= ids and len(ids) == 35
    llama = ft.references[0]
    assert llama.text.startswith("AI@Meta. Llama 3 model card.") and llama.arxiv_id is None
    assert llama.url == "https://github.com/meta-llama/llama3/blob/main/MODEL_CARD.md"


def test_failed_conversion_is_no_full_text() -> None:
    assert parse(page(FAILED)) is None
    assert parse(b"") is None
    assert parse(b"<html><body><p>No HTML for this paper.</p></body></html>") is None


def test_old_style_id_page_keeps_notes_out_of_the_title() -> None:
    ft = parse(page(OLD_STYLE))
    assert ft is not None
    assert ft.title == "The Definitive Abundance of Interstellar Oxygen"
    assert [s.label for s in ft.sections] == [
        "1 Introduction",
        "2 Observations",
        "3 Results",
        "4 Discussion",
    ]
    assert len(ft.references) == 63
    assert "$\\lambda$1356" in ft.sections[1].text


def test_math_in_the_title_and_older_latexml() -> None:
    ft = parse(page(MATH_TITLE))
    assert ft is not None
    assert ft.title == "Bernstein Polynomials and $n$-Copulas"
    assert [s.number for s in ft.sections if s.level == 1] == ["1", "2", "3", "4", "5"]
    assert len(ft.references) == 7
    assert "<mfrac>" in "".join(s.html for s in ft.sections)


def test_dois_in_references() -> None:
    ft = parse(page(TUMBLER))
    assert ft is not None and len(ft.references) == 54
    assert ft.references[0].doi == "10.1080/00018730701611677"  # from "\doibase 10.1080/..."
    assert sum(1 for r in ft.references if r.doi) >= 40


HOSTILE = b"""<!DOCTYPE html><html><head><title>x</title><script>alert(1)</script></head><body>
<article class="ltx_document"><h1 class="ltx_title ltx_title_document">Hostile <b onclick="x()">paper</b></h1>
<section id="S1" class="ltx_section"><h2 class="ltx_title ltx_title_section"><span class="ltx_tag">1 </span>Intro<script>alert(2)</script></h2>
<div class="ltx_para"><p class="ltx_p" onmouseover="steal()">Click <a href="javascript:alert(3)">here</a> or
<a href="https://example.org/ok" onclick="bad()">there</a> &lt;script&gt;alert(4)&lt;/script&gt;
<img src="x" onerror="alert(5)"><iframe src="https://evil.example"></iframe>
<math alttext="x" onload="alert(6)" display="inline"><mi href="javascript:alert(7)">x</mi><script>alert(8)</script></math>
<span style="background:url(javascript:alert(9))">styled</span></p></div>
<figure class="ltx_figure"><figcaption onclick="y()">Figure 1: <a href="data:text/html,boom">cap</a></figcaption></figure>
</section>
<section id="bib" class="ltx_bibliography"><ul><li class="ltx_bibitem"><span class="ltx_bibblock">
<a href="javascript:alert(10)">evil</a> arXiv:2401.00001</span></li></ul></section>
</article></body></html>"""


def test_hostile_html_is_rebuilt_without_scripts_handlers_or_javascript_links() -> None:
    ft = parse(HOSTILE)
    assert ft is not None
    html = ft.sections[0].html
    for bad in ("<script", "onclick", "onmouseover", "onerror", "onload", "javascript:", "<img",
                "<iframe", "style=", "data:text"):  # fmt: skip
        assert bad not in html, bad
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in html  # text stays text
    assert '<a href="https://example.org/ok" rel="nofollow noopener">there</a>' in html
    assert ft.sections[0].title == "Intro"
    assert ft.references[0].url is None and ft.references[0].arxiv_id == "2401.00001"


def test_licences_that_allow_showing_full_text() -> None:
    assert allows_full_text(CC_BY)
    assert allows_full_text("http://creativecommons.org/licenses/by-sa/4.0/")
    assert allows_full_text("http://creativecommons.org/publicdomain/zero/1.0/")
    assert allows_full_text("CC BY 4.0") and allows_full_text("cc0")
    assert not allows_full_text("http://creativecommons.org/licenses/by-nc-sa/4.0/")
    assert not allows_full_text("http://creativecommons.org/licenses/by-nc-nd/4.0/")
    assert not allows_full_text("http://arxiv.org/licenses/nonexclusive-distrib/1.0/")
    assert not allows_full_text("cc_by_nd") and not allows_full_text(None)


# --- storage, on SQLite and PostgreSQL ---


def _paper(pid: str, **kw: object) -> Paper:
    base: dict = {"title": f"Paper {pid}", "abstract": "An abstract.", "authors": ["A. B"]}
    base.update(kw)
    return Paper(id=pid, **base)


def test_store_references_resolve_and_cited_by(db: Database) -> None:
    ft = parse(page(SERVED))
    assert ft is not None
    with db.write() as conn:
        paper_store.upsert_papers(
            conn,
            [
                _paper("2501.11120", license=CC_BY, published=datetime(2025, 1, 19)),
                _paper("2309.14402"),  # cited by 2501.11120
            ],
        )
        rev = paper_store.max_rev(conn)
        assert store.save(conn, "2501.11120", "https://arxiv.org/html/2501.11120v1", ft)
        assert paper_store.max_rev(conn) > rev  # the keyword index will pick the body up
        assert not store.save(conn, "2501.11120", "https://arxiv.org/html/2501.11120v1", ft)
    with db.read() as conn:
        got = store.get(conn, "2501.11120")
        assert got is not None and got.status == "ok" and got.num_references == 48
        assert [s.label for s in got.sections] == [s.label for s in ft.sections]
        assert got.content_hash == ft.content_hash
        refs = store.references(conn, "2501.11120")
        assert len(refs) == 48
        assert [r.cited_id for r in refs if r.cited_id] == ["2309.14402"]
        assert store.cited_by(conn, "2309.14402") == ["2501.11120"]
        assert store.cited_by(conn, "2305.13712") == []
    # A cited paper harvested later is linked by the next resolve pass.
    with db.write() as conn:
        paper_store.upsert_papers(conn, [_paper("2305.13712")])
        assert store.resolve(conn) == 2
        assert store.cited_by(conn, "2305.13712") == ["2501.11120"]
        plan = conn.execute(
            sa.select(paper_references.c.paper_id).where(
                paper_references.c.cited_id == "2305.13712"
            )
        ).all()
        assert len(plan) == 1


def test_failures_are_recorded_and_retried_later(db: Database) -> None:
    with db.write() as conn:
        paper_store.upsert_papers(
            conn,
            [
                _paper("2401.00001", published=datetime(2024, 1, 1)),
                _paper("2401.00002", published=datetime(2024, 1, 2)),
            ],
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.write() as conn:
        assert store.due(conn, limit=10) == ["2401.00002", "2401.00001"]  # newest first
        store.record_failure(
            conn,
            "2401.00002",
            "u",
            status="failed",
            error="HTTP 503",
            retry_at=now + timedelta(hours=1),
        )
        assert store.due(conn, limit=10) == ["2401.00001"]
        assert store.due(conn, limit=10, now=now + timedelta(hours=2)) == [
            "2401.00001",
            "2401.00002",
        ]
        n = store.record_failure(
            conn, "2401.00002", "u", status="failed", error="again", retry_at=None
        )
        assert n == 2
        assert store.due(conn, limit=10, now=now + timedelta(days=30)) == ["2401.00001"]
        assert store.status_counts(conn) == {"failed": 1}
        ft = parse(page(OLD_STYLE))
        assert ft is not None
        store.save(conn, "2401.00001", "u", ft, version=1)
        assert store.due(conn, limit=10) == []
        # A new arXiv version is fetched again.
        paper_store.upsert_papers(conn, [_paper("2401.00001", version=2)])
        assert store.due(conn, limit=10) == ["2401.00001"]
        store.save(conn, "2401.00001", "u", ft, version=2)
        assert store.due(conn, limit=10) == []


def test_hostile_full_text_never_reaches_the_page(sqlite_db: Database, tmp_path: Path) -> None:
    ft = parse(HOSTILE)
    assert ft is not None
    settings = Settings(database_url=sqlite_db.url, data_dir=str(tmp_path))
    with sqlite_db.write() as conn:
        paper_store.upsert_papers(conn, [_paper("2401.00001", license=CC_BY)])
        store.save(conn, "2401.00001", "u", ft)
    text = TestClient(create_app(settings, sqlite_db)).get("/papers/2401.00001").text
    text = text.replace("&lt;script&gt;alert(4)&lt;/script&gt;", "")  # the paper's own text
    assert "Intro" in text and "styled" in text  # the section is shown ...
    for bad in ("alert(", "onclick", "onmouseover", "onerror", "javascript:", "<iframe"):
        assert bad not in text, bad  # ... without anything hostile


# --- the fetch job, through a loopback server serving the recorded pages ---


def _arxiv(req: Request) -> Reply:
    """arXiv on loopback: the API answers for 2501.11120 and 1707.08567; /html serves fixtures."""
    if req.path == "/api/query":
        ids = req.params.get("id_list", "")
        xml = (ATOM_DIR / "api2026_id_list=1707.08567.xml").read_text()
        if ids == "2501.11120":
            xml = xml.replace("1707.08567", "2501.11120")
        return Reply(xml, content_type="application/atom+xml")
    served = {
        "/html/2501.11120v1": Reply(page(SERVED), content_type="text/html; charset=utf-8"),
        "/html/1707.08567v1": Reply(page(FAILED), content_type="text/html; charset=utf-8"),
    }
    return served.get(req.path, Reply(b"Not found", 404, content_type="text/html"))


def test_harvest_then_fetch_then_search_and_pages(
    db: Database, upstream: Upstream, tmp_path: Path, no_outside_network: None
) -> None:
    upstream.app = _arxiv
    settings = settings_for(
        upstream,
        db.url,
        arxiv_html_url=upstream.url + "/html",
        fulltext_enabled=True,
        data_dir=str(tmp_path / "data"),
        embed_model="hash",
    )
    for pid in ("2501.11120", "1707.08567"):
        assert harvest(settings, db, "arxiv-ids", ids=[pid]).counts.new == 1
    with db.write() as conn:
        paper_store.upsert_papers(conn, [_paper("2309.14402", title="Physics of language models")])
    summary = run_job(settings, db)
    assert summary is not None
    assert (summary.fetched, summary.missing, summary.failed) == (1, 2, 0)  # 2309.14402: 404
    assert summary.linked == 1
    assert run_job(settings.with_(fulltext_enabled=False), db) is None
    html_reqs = [r.path for r in upstream.requests if r.path.startswith("/html/")]
    assert sorted(html_reqs) == ["/html/1707.08567v1", "/html/2309.14402v1", "/html/2501.11120v1"]
    with db.read() as conn:
        failed = store.get(conn, "1707.08567")
        assert failed is not None and failed.status == "missing" and failed.retry_at is not None
        assert "failed LaTeX conversion" in (failed.error or "")
        assert store.due(conn, limit=10) == []  # nothing new: the next run fetches nothing
    # A second run has nothing due; asking by id fetches again (and finds the same text).
    again = fetch_fulltexts(db, settings, ids=["2501.11120"])
    assert (again.fetched, again.unchanged) == (1, 1)

    # Search: a body-only word finds the paper and says which section matched.
    run_index(db, settings)
    res = search(db, settings, BODY_PHRASE, mode="lexical")
    assert [p.id for p in res.papers] == ["2501.11120"]
    label, snippet = res.body_snippets["2501.11120"]
    ft = parse(page(SERVED))
    assert ft is not None
    most = max(ft.sections, key=lambda s: s.text.lower().count(BODY_PHRASE))
    assert label == most.label, label  # the section with the most matches
    assert "<mark>manipulator</mark>" in snippet.lower()
    phrase = search(db, settings, '"a manipulator and a manipulatee"', mode="hybrid")
    assert "2501.11120" in [p.id for p in phrase.papers]

    client = TestClient(create_app(settings, db))
    found = client.get("/search", params={"q": BODY_PHRASE, "mode": "lexical"}).text
    assert "In section “" in found and "<mark>manipulator</mark>" in found

    # No licence recorded (the arXiv API gives none): references yes, text only on arXiv.
    r = client.get("/papers/2501.11120")
    assert r.status_code == 200
    assert "does not let this site show its full text" in r.text
    assert f'href="{upstream.url}/html/2501.11120"' in r.text
    assert "Make Me Say rules" not in r.text
    assert "References <small>(48)</small>" in r.text
    assert '<a href="/papers/2309.14402">on this site</a>' in r.text
    assert (
        'href="https://arxiv.org/abs/2305.13712" rel="noopener nofollow">arXiv:2305.13712' in r.text
    )
    cited = client.get("/papers/2309.14402").text
    assert "Cited by (in this instance)" in cited and 'href="/papers/2501.11120"' in cited
    assert "Full text not available, showing the abstract." in cited

    # The agent view follows the same rule: a note and arXiv's link, the references, no text.
    md = client.get("/papers/2501.11120.md").text
    assert "does not let this site show its full text" in md and "Make Me Say rules" not in md
    assert "## References" in md and "</papers/2309.14402> (in this instance)" not in md
    assert "</papers/2309.14402 (in this instance)>" in md
    cited_md = client.get("/papers/2309.14402.md").text
    assert "Full text not available here, showing the abstract" in cited_md
    assert "## Cited by (in this instance)" in cited_md and "</papers/2501.11120>" in cited_md

    # Under CC BY the sections are shown, with a table of contents.
    with db.write() as conn:
        p = paper_store.get_paper(conn, "2501.11120")
        assert p is not None
        p.license = CC_BY
        paper_store.upsert_papers(conn, [p])
    shown = client.get("/papers/2501.11120").text
    assert '<nav class="toc"' in shown and "3.1 Finetuning on multiple-choice" in shown
    assert "Make Me Say rules" in shown and "<math" in shown
    assert "does not let this site" not in shown

    # The agent view: /papers/{id}.md and huggingface_hub's read_paper.
    md = client.get("/papers/2501.11120.md").text
    assert "## Full text" in md and "#### 3.1 Finetuning on multiple-choice" in md
    assert "## References" in md and "arXiv preprint arXiv:2309.14402" in md
    from huggingface_hub import HfApi

    with serve(create_app(settings, db)) as base:
        text = HfApi(endpoint=base, token=False).read_paper("2501.11120")
    assert "## Abstract" in text and "Make Me Say rules" in text


def test_server_errors_are_retried_later_and_the_cli_reports(
    db: Database, upstream: Upstream, no_outside_network: None
) -> None:
    upstream.script([Reply(b"busy", 503)])
    settings = settings_for(upstream, db.url, arxiv_html_url=upstream.url + "/html", http_retries=0)
    with db.write() as conn:
        paper_store.upsert_papers(conn, [_paper("2501.11120", version=1)])
    summary = fetch_fulltexts(db, settings)
    assert summary.failed == 1 and "HTTP 503" in summary.errors[0]
    with db.read() as conn:
        got = store.get(conn, "2501.11120")
        assert got is not None and got.status == "failed" and got.retry_at is not None
        assert store.due(conn, limit=5) == []
    upstream.app = _arxiv
    env = {
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_ARXIV_HTML_URL": upstream.url + "/html",
        "PAPERFEED_HTTP_MIN_INTERVAL": "0",
    }
    out = CliRunner().invoke(main, ["fulltext", "--ids", "2501.11120"], env=env)
    assert out.exit_code == 0, out.output
    assert "full text: 1 stored" in out.output
    assert "papers by full-text status: 1 ok" in out.output
    with db.read() as conn:
        got = store.get(conn, "2501.11120")
        assert got is not None and got.status == "ok" and got.attempts == 0


@pytest.mark.parametrize("name", [SERVED, OLD_STYLE, MATH_TITLE, TUMBLER])
def test_every_fixture_round_trips_through_the_store(sqlite_db: Database, name: str) -> None:
    ft = parse(page(name))
    assert ft is not None
    with sqlite_db.write() as conn:
        paper_store.upsert_papers(conn, [_paper("2401.00001")])
        store.save(conn, "2401.00001", "u", ft)
    with sqlite_db.read() as conn:
        got = store.get(conn, "2401.00001")
        assert got is not None and got.sections == ft.sections


def test_an_index_built_before_the_body_field_is_rebuilt(
    sqlite_db: Database, tmp_path: Path
) -> None:
    import tantivy

    from paperfeed.search.sync import Layout, search_dir, sync_lexical

    settings = Settings(database_url=sqlite_db.url, data_dir=str(tmp_path), embed_model="hash")
    layout = Layout(search_dir(settings))
    old = layout.lexical_root / "g1"
    old.mkdir(parents=True)
    sb = tantivy.SchemaBuilder()  # an older paperfeed's schema: no body field
    for name in ("id", "title", "abstract", "authors"):
        sb.add_text_field(name, stored=True)
    tantivy.Index(sb.build(), path=str(old))
    layout.current.write_text("g1")
    layout.lexical_meta("g1").write_text('{"rev": 0}')
    with sqlite_db.write() as conn:
        paper_store.upsert_papers(conn, [_paper("2401.00001")])
        ft = parse(page(SERVED))
        assert ft is not None
        store.save(conn, "2401.00001", "u", ft)
    sync_lexical(sqlite_db, layout)
    assert layout.lexical_generation() not in (None, "g1")
    res = search(sqlite_db, settings, BODY_PHRASE, mode="lexical")
    assert [p.id for p in res.papers] == ["2401.00001"]

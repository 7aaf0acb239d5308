"""The search page, its Hugging Face-shaped JSON twin (with the real huggingface_hub client),
similar papers on the paper page, and hostile input over HTTP never giving a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from _search_helpers import PAPERS, load, settings_for
from _web_helpers import serve
from fastapi.testclient import TestClient
from lxml import etree

from paperfeed.search.sync import run_index
from paperfeed.store import Database
from paperfeed.web.app import create_app

XSS = replace(
    PAPERS[0],
    id="2506.00006",
    title="Robust <script>alert(1)</script> retrieval",
    abstract='Retrieval with <img src=x onerror="alert(2)"> payloads in the abstract text.',
    published=datetime(2025, 6, 1),
)


def _client(db: Database, tmp: Path, *, index: bool = True) -> TestClient:
    load(db, [*PAPERS, XSS])
    s = settings_for(db, tmp)
    if index:
        run_index(db, s)
    return TestClient(create_app(s, db), raise_server_exceptions=False)


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with _client(db, tmp_path) as c:
        yield c


def test_search_page_cards_snippets_filters_paging(client: TestClient) -> None:
    r = client.get("/search", params={"q": "diffusion video"})
    assert r.status_code == 200
    assert 'href="/papers/2402.00002"' in r.text
    assert "<mark>Diffusion</mark>" in r.text or "<mark>diffusion</mark>" in r.text
    assert (
        r.text.index("2402.00002") < r.text.index("2401.00001") if "2401.00001" in r.text else True
    )
    r = client.get("/search", params={"q": "attention", "cat": "cs.CL", "author": "Yann LeCun"})
    assert "2401.00001" in r.text and "2505.00005" not in r.text
    r = client.get("/search", params={"q": "cat:cs", "from": "2025-01", "sort": "date"})
    assert r.text.index("2506.00006") < r.text.index("2505.00005") < r.text.index("2504.00004")
    assert "2402.00002" not in r.text
    first = client.get("/search", params={"q": "cat:cs", "mode": "lexical"}).text
    assert "5 results" in first
    r = client.get("/search", params={"q": "", "cat": "cs"})
    assert r.status_code == 200


def test_paging_links(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperfeed.web import search_pages

    monkeypatch.setattr(search_pages, "PAGE_SIZE", 2)
    with _client(db, tmp_path) as c:
        p1 = c.get("/search", params={"q": "cat:cs"})
        assert "page 1 of 3" in p1.text and "p=2" in p1.text
        p3 = c.get("/search", params={"q": "cat:cs", "p": "3"})
        assert p3.status_code == 200 and "page 3 of 3" in p3.text and 'rel="next"' not in p3.text


@pytest.mark.parametrize(
    "q", ["2402.00002", "https://arxiv.org/abs/2402.00002v2", "arXiv:2402.00002", "hep-th/9901001"]
)
def test_pasting_an_arxiv_id_opens_the_paper(client: TestClient, q: str) -> None:
    r = client.get("/search", params={"q": q}, follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] in ("/papers/2402.00002", "/papers/hep-th/9901001")


def test_snippets_and_titles_are_escaped(client: TestClient) -> None:
    r = client.get("/search", params={"q": "retrieval payloads"})
    assert r.status_code == 200 and "2506.00006" in r.text
    assert "<script>alert(1)</script>" not in r.text
    assert "<img src=x" not in r.text
    assert "&lt;img" in r.text or "&lt;script&gt;" in r.text
    j = client.get("/api/papers/search", params={"q": "payloads"}).json()
    # The API gives the Hub's parts of plain text (JSON carries raw text; pages escape it).
    parts = j[0]["highlightedSummary"]
    assert {"type": "highlight", "text": "payloads"} in parts
    assert all("<mark>" not in part["text"] for part in parts)


def test_api_shape_and_errors(client: TestClient) -> None:
    r = client.get("/api/papers/search", params={"q": "sparse attention", "limit": "2"})
    assert r.status_code == 200
    items = r.json()
    assert len(items) == 2 and int(r.headers["X-Total-Count"]) >= 2
    item = items[0]
    assert item["paper"]["id"] in {"2505.00005", "2401.00001"}
    assert item["title"] == item["paper"]["title"]
    assert item["paper"]["authors"][0]["name"]
    assert item["publishedAt"].endswith("Z")
    assert client.get("/api/papers/search", params={"q": "x", "mode": "nope"}).status_code == 400
    assert client.get("/api/papers/search", params={"q": "x", "limit": "0"}).status_code == 400
    # The Hub-shaped API searches text that is no valid filter; the page explains filters.
    assert client.get("/api/papers/search", params={"q": "year:abc"}).status_code == 200
    bad = client.get("/search", params={"q": "year:abc"})
    assert bad.status_code == 400 and "year" in bad.text


def test_similar_papers_on_the_paper_page_and_api(client: TestClient) -> None:
    r = client.get("/papers/2505.00005")
    assert r.status_code == 200 and "Similar papers" in r.text
    section = r.text[r.text.index("Similar papers") :]
    assert "/papers/2401.00001" in section
    j = client.get("/api/papers/2505.00005/similar", params={"limit": "3"}).json()
    assert j[0]["paper"]["id"] == "2401.00001"
    assert all(i["paper"]["id"] != "2505.00005" for i in j)
    assert client.get("/api/papers/2999.99999/similar").status_code == 404


def test_before_indexing_search_explains_and_paper_page_works(db: Database, tmp_path: Path) -> None:
    with _client(db, tmp_path, index=False) as c:
        r = c.get("/search", params={"q": "attention"})
        assert r.status_code == 503 and "paperfeed index" in r.text
        assert c.get("/api/papers/search", params={"q": "attention"}).status_code == 503
        page = c.get("/papers/2505.00005")
        assert page.status_code == 200 and "Similar papers" not in page.text


HOSTILE = [
    '"',
    "((",
    ")",
    "NEAR",
    "*",
    "-",
    ":",
    "cat:",
    "title:(",
    "\x00",
    "a\x00b",
    "🤖🔥",
    "مرحبا",
    "two\nlines",
    "x" * 10_000,
    "[1 TO 2]",
    "\\",
    "'; DROP TABLE papers; --",
    "year:2025..2024",
    'author:"',
    "%",
    "%00",
    "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
]


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "semantic"])
def test_hostile_queries_over_http_never_500(client: TestClient, mode: str) -> None:
    for q in HOSTILE:
        for url in ("/search", "/api/papers/search", "/search.atom"):
            r = client.get(url, params={"q": q, "mode": mode})
            assert r.status_code in (200, 400), (url, q, r.status_code, r.text[:200])
    for params in (
        {"q": "x", "p": "-1"},
        {"q": "x", "p": "99999999999"},
        {"q": "x", "from": "garbage"},
        {"q": "x", "to": "2025-02-30"},
        {"q": "x", "cat": "!!"},
        {"q": "x", "sort": "evil"},
        {"q": "x", "limit": "1e9"},
    ):
        for url in ("/search", "/api/papers/search"):
            assert client.get(url, params=params).status_code in (200, 400), (url, params)


def test_huggingface_hub_list_papers_against_a_real_server(
    sqlite_db: Database, tmp_path: Path
) -> None:
    from huggingface_hub import HfApi

    load(sqlite_db)
    s = settings_for(sqlite_db, tmp_path)
    run_index(sqlite_db, s)
    with serve(create_app(s, sqlite_db)) as base:
        api = HfApi(endpoint=base, token=False)
        papers: list[Any] = list(api.list_papers(query="diffusion video", limit=3))
        assert papers and papers[0].id == "2402.00002"
        assert papers[0].title == "Diffusion Models for Video Generation"
        assert papers[0].authors and papers[0].authors[0].name == "Grace Hopper"
        assert papers[0].published_at is not None and papers[0].published_at.year == 2024
        assert papers[0].upvotes == 50
        assert len(list(api.list_papers(query="attention", limit=1))) == 1


def test_search_snippets_render_latex_and_keep_highlights(db: Database, tmp_path: Path) -> None:
    math = replace(
        PAPERS[2],
        id="2507.00007",
        title="Halo masses beyond $M_{200}$",
        abstract="We bound the halo concentration as $c \\propto M^{-0.1}$ for every halo "
        "in the survey.",
    )
    load(db, [*PAPERS, math])
    s = settings_for(db, tmp_path)
    run_index(db, s)
    with TestClient(create_app(s, db)) as c:
        page = c.get("/search", params={"q": "halo concentration", "mode": "lexical"}).text
    card = page[page.index("/papers/2507.00007") :][:4000]
    assert "<mark>concentration</mark>" in card  # the keyword highlight stays
    card = card.split("</article>")[0]
    assert card.count('<span class="math"') == 2  # the title's formula and the snippet's
    visible = re.sub(r'title="[^"]*"', "", card)  # the LaTeX source stays only as a tooltip
    assert "$" not in visible and "\\propto" not in visible and "masses beyond" in visible


def test_browsers_can_add_the_search_to_their_bar(client: TestClient) -> None:
    # OpenSearch 1.1: every page links the description, whose template runs the site's search.
    home = client.get("/").text
    link = re.search(
        r'<link rel="search" type="application/opensearchdescription\+xml"[^>]*>', home
    )
    assert link and 'href="/opensearch.xml"' in link.group(0)
    r = client.get("/opensearch.xml")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/opensearchdescription+xml")
    ns = {"os": "http://a9.com/-/spec/opensearch/1.1/"}
    doc = etree.fromstring(r.content)
    short = doc.findtext("os:ShortName", namespaces=ns)
    assert short and len(short) <= 16
    urls = {u.get("type"): u.get("template") for u in doc.findall("os:Url", ns)}
    html = urls["text/html"]
    assert html and html.endswith("/search?q={searchTerms}")
    path = html.split("://", 1)[1].split("/", 1)[1].replace("{searchTerms}", "sparse+attention")
    found = client.get("/" + path)
    assert found.status_code == 200 and "Sparse" in found.text
    atom = urls["application/atom+xml"]
    assert atom and atom.endswith("/search.atom?q={searchTerms}")

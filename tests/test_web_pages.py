"""The HTML pages on both backends: feed order, navigation, paging, paper pages, errors, escaping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _web_helpers import HOSTILE_TITLE, seed
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store import Database
from paperfeed.web import create_app


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    """A test client on an app over the seeded database (page size 2 to exercise paging)."""
    seed(db)
    app = create_app(Settings(database_url=db.url, page_size=2, site_name="testfeed"), db)
    with TestClient(app) as c:
        yield c


def titles(html: str) -> list[str]:
    """The card titles of a feed page, in order (markup stripped)."""
    found = re.findall(r'<h2 class="card-title"[^>]*><a [^>]*>(.*?)</a></h2>', html, re.S)
    return [re.sub(r"<[^>]+>", "", t).strip() for t in found]


def nav_links(html: str) -> dict[str, str]:
    """The rel=prev / rel=next links of a feed page."""
    return dict(re.findall(r'<a class="button" rel="(prev|next)" href="([^"]+)"', html))


def test_home_shows_latest_day_ordered_by_upvotes(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "Jul 1, 2024" in r.text
    assert titles(r.text) == ["Agents in the Wild"]
    assert "testfeed" in r.text
    assert 'action="/search"' in r.text and 'name="q"' in r.text
    assert 'action="/subscribe"' in r.text and 'type="email"' in r.text
    assert "Get trending papers in your email inbox!" in r.text
    # Latest day: a previous day link, and no next day.
    assert nav_links(r.text) == {"prev": "/papers/date/2024-06-03"}


def test_day_page_orders_by_upvotes_and_pages(client: TestClient) -> None:
    r = client.get("/papers/date/2024-05-29")
    assert r.status_code == 200
    # 4 papers, page size 2: 25 then 7 upvotes on page 1, 3 then 1 on page 2.
    first, second = titles(r.text)
    assert first == "Diffusion Models for Everything"
    assert second.startswith("Black holes of 109M⊙ at z")
    assert "page 1 of 2" in r.text
    assert 'href="/papers/date/2024-05-29?p=2"' in r.text
    r2 = client.get("/papers/date/2024-05-29?p=2")
    assert r2.status_code == 200
    assert titles(r2.text)[1] == "An Old-Style Paper on Strings"
    assert 'href="/papers/date/2024-05-29"' in r2.text  # back to page 1
    assert client.get("/papers/date/2024-05-29?p=3").status_code == 404
    assert client.get("/papers/date/2024-05-29?p=abc").status_code == 400
    assert client.get("/papers/date/2024-05-29?p=0").status_code == 400


def test_day_navigation_skips_days_without_papers(client: TestClient) -> None:
    links = nav_links(client.get("/papers/date/2024-05-29").text)
    assert links == {"prev": "/papers/date/2024-05-27", "next": "/papers/date/2024-06-03"}
    first = nav_links(client.get("/papers/date/2024-05-27").text)
    assert first == {"next": "/papers/date/2024-05-29"}


def test_empty_valid_day_is_404_with_neighbours(client: TestClient) -> None:
    r = client.get("/papers/date/2024-05-30")
    assert r.status_code == 404
    assert "No papers were featured on May 30, 2024" in r.text
    assert nav_links(r.text) == {
        "prev": "/papers/date/2024-05-29",
        "next": "/papers/date/2024-06-03",
    }


def test_week_page_and_navigation(client: TestClient) -> None:
    r = client.get("/papers/week/2024-W22")  # Mon 2024-05-27 .. Sun 06-02
    assert r.status_code == 200
    assert "Week 22, 2024" in r.text
    assert "6 papers" in r.text
    assert titles(r.text) == ["Scaling Laws Revisited", "Diffusion Models for Everything"]
    assert nav_links(r.text) == {"next": "/papers/week/2024-W23"}
    r23 = client.get("/papers/week/2024-W23")
    # The week after W23 with papers is W27 (July 1): empty weeks are skipped.
    assert nav_links(r23.text) == {"prev": "/papers/week/2024-W22", "next": "/papers/week/2024-W27"}
    assert client.get("/papers/week", follow_redirects=False).headers["location"] == (
        "/papers/week/2024-W27"
    )


def test_month_page_and_navigation(client: TestClient) -> None:
    r = client.get("/papers/month/2024-05")
    assert r.status_code == 200
    assert "May 2024" in r.text
    assert "6 papers" in r.text
    assert nav_links(r.text) == {"next": "/papers/month/2024-06"}
    r6 = client.get("/papers/month/2024-06?p=1")
    assert titles(r6.text) == ["Benchmarks Considered Harmful", "Small Language Models Win"]
    assert nav_links(r6.text) == {"prev": "/papers/month/2024-05", "next": "/papers/month/2024-07"}
    assert client.get("/papers/month", follow_redirects=False).headers["location"] == (
        "/papers/month/2024-07"
    )


BAD_URLS = [
    "/papers/date/2024-02-30",
    "/papers/date/2024-13-01",
    "/papers/date/yesterday",
    "/papers/date/2024-5-1",
    "/papers/week/2024-W54",
    "/papers/week/2023-W53",  # 2023 has 52 ISO weeks
    "/papers/month/2024-00",
    "/papers/month/2024-13",
    "/papers/date/0000-01-01",
    "/papers/date/9999-12-31",  # valid but empty; its week ends past date.max
    "/papers/week/9999-W52",
    "/papers/month/9999-12",
    "/papers/date/%00",
    "/papers/9999.99999",
    "/papers/2401.01234",
    "/papers/<script>alert(1)</script>",
    "/papers/2401.01234'%20OR%201=1--",
    "/papers/../../etc/passwd",
    "/no/such/page",
]


def test_bad_urls_are_404_pages(client: TestClient) -> None:
    # One client for all URLs: a fresh seeded database per URL would cost ~1 s each.
    for url in BAD_URLS:
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("text/html")
        # Either the error page, or (for a valid but empty period) the empty feed page.
        assert "Not found" in r.text or "No papers were featured" in r.text, url
        assert "<script>alert(1)</script>" not in r.text


def test_paper_page_shows_everything(client: TestClient) -> None:
    r = client.get("/papers/2405.00002")
    assert r.status_code == 200
    html = r.text
    assert "Scaling Laws Revisited" in html
    for name in ("Author 1 A", "Author 1 B", "Ada Lovelace"):
        # Each author links to their author page.
        assert f">{name}</a></li>" in html
    assert 'href="/authors/author-1-a"' in html
    assert 'href="https://arxiv.org/abs/2405.00002"' in html
    assert 'href="https://arxiv.org/pdf/2405.00002"' in html
    assert 'href="https://github.com/example/repo"' in html and "★ 321" in html
    assert 'href="https://example.org/p"' in html
    assert 'class="tag tag-primary" title="primary category">cs.CL' in html
    assert 'href="/categories#cat-cs.lg" class="tag">cs.LG</a>' in html  # links to its category
    assert "10 pages, 3 figures" in html and "J. Test. 1 (2024) 1" in html
    assert 'href="https://doi.org/10.1000/test.123"' in html
    assert "creativecommons.org/licenses/by/4.0" in html
    assert '<span class="votes-count">40</span>' in html
    assert 'href="/papers/date/2024-05-27">May 27, 2024</a>' in html
    assert "First version" in html and "Latest version" in html and "(v2)" in html


def test_paper_without_authors(client: TestClient, db: Database) -> None:
    from paperfeed.models import Paper
    from paperfeed.store import papers as paper_store

    with db.write() as conn:
        paper_store.upsert_papers(conn, [Paper(id="2406.09999", title="Anonymous", authors=[])])
    html = client.get("/papers/2406.09999").text
    assert "Authors not recorded" in html and 'class="author-list"' not in html


def test_old_style_ids_and_redirects(client: TestClient) -> None:
    r = client.get("/papers/hep-th/9901001")
    assert r.status_code == 200 and "An Old-Style Paper on Strings" in r.text
    for url in (
        "/papers/2405.00002v3",
        "/papers/arXiv:2405.00002",
        "/papers/https://arxiv.org/abs/2405.00002v1",
    ):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 308, url
        assert r.headers["location"] == "/papers/2405.00002"
    md = client.get("/papers/hep-th/9901001.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# An Old-Style Paper on Strings\n")
    assert client.get("/papers/2499.99999.md").status_code == 404
    r = client.get("/papers/HEP-TH/9901001v2", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/papers/hep-th/9901001"


def test_html_in_titles_is_shown_as_text(client: TestClient) -> None:
    for url in ("/papers/date/2024-05-29?p=2", "/papers/2405.00004"):
        html = client.get(url).text
        assert "<script>alert(" not in html
        assert "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    page = client.get("/papers/2405.00004").text
    # A javascript: project page is never turned into a link.
    assert "javascript:" not in page
    assert HOSTILE_TITLE not in page


def test_math_renders_as_mathml(client: TestClient) -> None:
    html = client.get("/papers/2405.00003").text
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html
    assert "<msub><mi>M</mi><mo>⊙</mo></msub>" in html
    assert "an escaped $5 bill" in html
    assert "&lt;i&gt;markup&lt;/i&gt;" in html
    assert html.count("<p>") >= 2  # paragraphs kept
    # The <title> holds plain text with the math as Unicode, never markup nor LaTeX source.
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title and "<math" not in title.group(1) and "\\odot" not in title.group(1)
    assert "10⁹ M_⊙" in title.group(1)


def test_security_headers(client: TestClient) -> None:
    for url in ("/", "/papers/2405.00002", "/api/daily_papers", "/papers/nope"):
        h = client.get(url).headers
        assert h["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in h["content-security-policy"]
        assert "script-src 'self'" in h["content-security-policy"]
        assert h["referrer-policy"] == "strict-origin-when-cross-origin"


def test_static_css_is_served(client: TestClient) -> None:
    r = client.get("/static/style.css")
    assert r.status_code == 200 and ".card" in r.text


def test_create_app_opens_and_migrates_its_own_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'own.db'}"
    with TestClient(create_app(Settings(database_url=url))) as c:
        assert c.get("/").status_code == 200
        db = c.app.state.db  # type: ignore[attr-defined]
        seed(db)
        assert titles(c.get("/").text) == ["Agents in the Wild"]


def test_empty_store_home(sqlite_db: Database) -> None:
    app = create_app(Settings(database_url=sqlite_db.url), sqlite_db)
    with TestClient(app) as c:
        r = c.get("/")
        assert r.status_code == 200
        assert "paperfeed import" in r.text
        assert c.get("/papers/week", follow_redirects=False).headers["location"] == "/"
        assert c.get("/api/daily_papers").json() == []


def test_head_answers_like_get_without_a_body(client: TestClient) -> None:
    home = client.get("/").text
    paper = re.search(r'href="(/papers/[0-9]{4}\.[0-9]{4,5})"', home)
    assert paper is not None
    for path in ["/", paper.group(1), "/api/daily_papers"]:
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.content == b"" and get.content != b""
    get = client.get("/papers/week", follow_redirects=False)
    head = client.head("/papers/week", follow_redirects=False)
    assert head.status_code == get.status_code
    assert head.headers["location"] == get.headers["location"]
    assert client.head("/papers/9999.99999").status_code == 404

"""Every list page advertises its Atom feed, and every feed parses cleanly with feedparser:
alternate links, paging, authors, hostile titles, conditional GETs and private feed tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import feedparser
import pytest
from _recommend_helpers import PASSWORD, member, settings_for, signed_in
from _web_helpers import SEED, seed
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree, html

from paperfeed.config import Settings
from paperfeed.models import FeedEntry, Paper
from paperfeed.normalize import valid_paper
from paperfeed.ranking.trending import rank
from paperfeed.search.sync import run_index
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import library as store_library
from paperfeed.store import papers as paper_store
from paperfeed.store import users as user_store
from paperfeed.web import auth, create_app, feeds

BASE = "http://testserver"
WEEK = date(2024, 7, 22)  # Monday of ISO week 2024-W30: 110 papers, more than one old page (50)
JULY_OTHERS = 100  # more papers elsewhere in July: the month (211) needs two feed pages of 200
# Titles that broke feeds: a C0 control, a non-character, LaTeX, HTML, no authors at all.
HOSTILE = [
    ("2407.90001", "Control\x01 char\x0b and \ufffe in a title", ["Bad\x07 Name"]),
    ("2407.90002", r"LaTeX $\alpha < \beta$ & <b>HTML</b> in one title", []),
]


def _week_paper(i: int) -> Paper:
    return Paper(
        id=f"2407.{10000 + i:05d}",
        title=f"Week paper {i} on sparse attention",
        abstract=f"Attention abstract number {i}.",
        authors=[f"Writer {i}"],
        categories=["cs.LG"],
        published=datetime(2024, 7, 20),
        upvotes=i,
    )


def _month_paper(i: int) -> Paper:
    return Paper(
        id=f"2407.{20000 + i:05d}",
        title=f"July paper {i}",
        abstract="Another July abstract.",
        authors=[f"July Writer {i}"],
        categories=["cs.CL"],
        published=datetime(2024, 7, 1),
    )


@dataclass
class Site:
    db: Database
    settings: Settings
    collection: int
    member_id: int


def _populate(db: Database) -> None:
    seed(db)
    week = [_week_paper(i) for i in range(110)]
    others = [_month_paper(i) for i in range(JULY_OTHERS)]
    # Every source passes records through the gate, which cleans what XML cannot carry; the
    # writer's own xml_safe is checked below by test_the_writer_never_emits_invalid_xml.
    hostile = [
        valid_paper(Paper(id=pid, title=t, abstract="Abstract\x0c with a form feed.", authors=a))
        for pid, t, a in HOSTILE
    ]
    with db.write() as conn:
        paper_store.upsert_papers(conn, [*week, *others, *hostile])
        feed_store.add_entries(
            conn,
            [
                FeedEntry(p.id, WEEK + timedelta(days=i % 7), None, None, "hf")
                for i, p in enumerate(week)
            ]
            + [
                FeedEntry(p.id, date(2024, 7, 8 + i % 12), None, None, "hf")
                for i, p in enumerate(others)
            ]
            + [FeedEntry(pid, date(2024, 8, 5), "akhaliq", None, "hf") for pid, _, _ in HOSTILE],
        )


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Site:
    _populate(db)
    s = settings_for(db, tmp_path)
    run_index(db, s)
    rank(db, s, now=datetime(2024, 8, 5, 12))
    user = member(db)
    with db.write() as conn:
        col = store_library.get_or_create_collection(conn, user.id, "Reading <list>")
        for pid, *_ in SEED[:4]:
            store_library.save(conn, user.id, pid, [col.id])
    return Site(db, s, col.id, user.id)


@pytest.fixture
def anon(site: Site) -> Iterator[TestClient]:
    with TestClient(create_app(site.settings, site.db)) as c:
        yield c


@pytest.fixture
def ada(site: Site) -> Iterator[TestClient]:
    with signed_in(site.settings, site.db, "ada@example.org") as c:
        yield c


def _list_pages(site: Site) -> list[str]:
    c = site.collection
    return [
        "/",
        "/papers/week/2024-W30?p=2",
        "/papers/date/2024-05-29",
        "/papers/week/2024-W22",
        "/papers/week/2024-W30",
        "/papers/month/2024-07",
        "/search?q=attention",
        "/search?q=attention&cat=cs.LG&sort=date",
        "/papers/trending",
        f"/library/{c}",
        f"/library/{c}/similar",
        "/for-you",
        f"/for-you?collection={c}",
    ]


def _head_feed(page: str) -> tuple[str, str, list[str]]:
    """The page's <head> Atom link (href, title) and its visible feed and BibTeX links."""
    doc = html.fromstring(page)
    in_head = doc.xpath('//head/link[@rel="alternate"][@type="application/atom+xml"]')
    anywhere = doc.xpath('//link[@rel="alternate"][@type="application/atom+xml"]')
    assert len(in_head) == 1 and len(anywhere) == 1, "one Atom <link> and it is in <head>"
    visible = doc.xpath('//main//a[@type="application/atom+xml" or @type="application/x-bibtex"]')
    return in_head[0].get("href"), in_head[0].get("title"), [a.get("href") for a in visible]


def _parse(body: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def _alternate(parsed: feedparser.FeedParserDict) -> str:
    return next(link.href for link in parsed.feed.links if link.rel == "alternate")


def _check_entries(parsed: feedparser.FeedParserDict) -> None:
    assert parsed.feed.author_detail.name  # the feed-level author: RFC 4287 4.1.1
    for e in parsed.entries:
        assert re.fullmatch(rf"{BASE}/papers/[\w./-]+", e.link), e.link
        assert e.id == e.link and e.title and e.updated
        # feedparser falls back to the feed's author; the raw entry must name its own if known.
        assert e.get("author") or parsed.feed.author


def test_every_list_page_links_a_valid_feed_in_its_head(site: Site, ada: TestClient) -> None:
    reader = TestClient(create_app(site.settings, site.db))  # a feed reader has no cookie
    for path in _list_pages(site):
        page = ada.get(path)
        assert page.status_code == 200, path
        href, title, visible = _head_feed(page.text)
        assert title.startswith(site.settings.site_name), (path, title)
        assert href in visible and len(visible) == 2, (path, visible)
        r = reader.get(href)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
        parsed = _parse(r.content)
        _check_entries(parsed)
        alt = _alternate(parsed)
        want = path.split("?p=")[0]
        if path.startswith("/library/") and path.endswith("/similar"):
            want = f"/for-you?collection={site.collection}"  # the same list, by one collection
        if path.startswith("/papers/trending") or path.startswith("/search"):
            assert alt == BASE + want, (path, alt)
        elif path == "/" or path.startswith("/?"):
            assert alt == BASE + "/"
        else:
            assert alt == BASE + want, (path, alt)
        bib = ada.get(next(v for v in visible if v != href))
        assert bib.status_code == 200 and bib.headers["content-type"].startswith(
            "application/x-bibtex"
        ), path


def test_crawl_every_page_with_cards_advertises_a_feed(site: Site, ada: TestClient) -> None:
    """The class check: any page listing paper cards, reached by following links, has a feed,
    and every feed a page advertises parses cleanly for a reader without the member's cookie."""
    reader = TestClient(create_app(site.settings, site.db))
    seen: set[str] = set()
    todo = ["/", "/library", "/for-you", "/papers/trending", "/search?q=attention"]
    advertised: set[str] = set()
    listed = 0
    while todo and len(seen) < 120:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        r = ada.get(path)
        if r.status_code != 200 or not r.headers["content-type"].startswith("text/html"):
            continue
        doc = html.fromstring(r.text)
        heads = doc.xpath('//link[@rel="alternate"][@type="application/atom+xml"]/@href')
        advertised.update(heads)
        if doc.xpath('//ol[contains(concat(" ", @class, " "), " cards ")]') and not re.match(
            r"^/papers/\d|^/papers/hep", path
        ):
            listed += 1
            _head_feed(r.text)
        for a in doc.xpath("//a[@href]"):
            href = a.get("href").split("#")[0]
            if href.startswith("/") and not href.startswith(("/static", "/api", "/logout")):
                if not href.endswith((".atom", ".bib")) and "export.bib" not in href:
                    todo.append(href)
    assert listed >= 8
    assert len(advertised) >= 8
    for href in sorted(advertised):
        r = reader.get(href)
        assert r.status_code == 200, href
        _check_entries(_parse(r.content))


def test_period_feeds_hold_the_whole_week_and_page_the_month(site: Site, anon: TestClient) -> None:
    week = _parse(anon.get("/papers/feed.atom?week=2024-W30").content)
    assert len(week.entries) == 110  # the old feed stopped at 50
    assert _alternate(week) == f"{BASE}/papers/week/2024-W30"
    assert not [link for link in week.feed.links if link.rel == "next"]
    day = _parse(anon.get("/papers/feed.atom?date=2024-05-29").content)
    assert _alternate(day) == f"{BASE}/papers/date/2024-05-29" and len(day.entries) == 4
    latest = _parse(anon.get("/papers/feed.atom").content)
    assert _alternate(latest) == f"{BASE}/" and len(latest.entries) == len(HOSTILE)

    first = _parse(anon.get("/papers/feed.atom?month=2024-07").content)
    links = {link.rel: link.href for link in first.feed.links}
    assert _alternate(first) == f"{BASE}/papers/month/2024-07"
    assert len(first.entries) == 200 and "previous" not in links
    assert links["next"] == links["last"] == f"{BASE}/papers/feed.atom?month=2024-07&p=2"
    assert links["first"] == links["self"] == f"{BASE}/papers/feed.atom?month=2024-07"
    second = _parse(anon.get(urlsplit(links["next"]).path + "?month=2024-07&p=2").content)
    links2 = {link.rel: link.href for link in second.feed.links}
    assert links2["previous"] == links["self"] and "next" not in links2
    assert second.feed.id == first.feed.id == f"{BASE}/papers/feed.atom?month=2024-07"
    assert anon.get("/papers/feed.atom?month=2024-07&p=3").status_code == 404
    assert anon.get("/papers/feed.atom?month=2024-07&p=0").status_code == 400
    ids = [e.link for e in first.entries + second.entries]
    assert len(ids) == len(set(ids)) == 110 + JULY_OTHERS + 1


def test_feeds_over_papers_without_authors_are_valid(site: Site, anon: TestClient) -> None:
    for path in ("/search.atom?q=LaTeX", "/papers/feed.atom?date=2024-08-05"):
        parsed = _parse(anon.get(path).content)
        assert parsed.feed.author_detail == {"name": site.settings.site_name, "href": BASE + "/"}
        assert parsed.entries, path
    raw = etree.fromstring(anon.get("/papers/feed.atom?date=2024-08-05").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert raw.xpath("count(/a:feed/a:author)", namespaces=ns) == 1
    by_id = {e.findtext("a:id", namespaces=ns): e for e in raw.xpath("//a:entry", namespaces=ns)}
    assert by_id[f"{BASE}/papers/2407.90002"].xpath("count(a:author)", namespaces=ns) == 0
    assert by_id[f"{BASE}/papers/2407.90001"].xpath("a:author/a:name/text()", namespaces=ns) == [
        "Bad Name"
    ]


def test_hostile_titles_keep_the_feed_well_formed(site: Site, anon: TestClient) -> None:
    for path in ("/papers/feed.atom?date=2024-08-05", "/search.atom?q=title"):
        body = anon.get(path).content
        etree.fromstring(body)  # strict XML 1.0: raises on any invalid character
        _parse(body)
    body = anon.get("/papers/feed.atom?date=2024-08-05").content
    entries = {e.id: e for e in _parse(body).entries}
    assert entries[f"{BASE}/papers/2407.90001"].title == "Control char and in a title"
    latex = entries[f"{BASE}/papers/2407.90002"]
    assert latex.title == r"LaTeX $\alpha < \beta$ & <b>HTML</b> in one title"  # text, not markup
    assert latex.title_detail.type == "text/plain"


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(max_size=40),
    name=st.text(max_size=20),
    cat=st.text(max_size=10),
    site_name=st.text(max_size=20),
)
def test_the_writer_never_emits_invalid_xml(
    title: str, name: str, cat: str, site_name: str
) -> None:
    paper = Paper(id="2401.00001", title=title, abstract=title, authors=[name], categories=[cat])
    body = feeds.atom_feed(
        Settings(base_url=BASE, site_name=site_name or "x"),
        title=title,
        self_path="/search.atom?q=" + cat,
        html_path="/search",
        papers=[(paper, None, name)],
        paging=feeds.Paging(1, 1, 3),
    )
    etree.fromstring(body)
    assert feedparser.parse(body).bozo == 0


def test_feeds_answer_conditional_gets(site: Site, anon: TestClient) -> None:
    for path in (
        "/papers/feed.atom?date=2024-05-29",
        "/papers/trending.atom",
        "/search.atom?q=attention",
    ):
        r = anon.get(path)
        etag, modified = r.headers["etag"], r.headers["last-modified"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
        assert anon.get(path).headers["etag"] == etag  # stable: nothing changed
        for headers in (
            {"If-None-Match": etag},
            {"If-None-Match": f'"other", W/{etag}'},
            {"If-None-Match": "*"},
            {"If-Modified-Since": modified},
        ):
            again = anon.get(path, headers=headers)
            assert again.status_code == 304 and again.content == b"", (path, headers)
            assert again.headers["etag"] == etag
        assert anon.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        # If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3).
        both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
        assert anon.get(path, headers=both).status_code == 200
        old = {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
        assert anon.get(path, headers=old).status_code == 200
        assert anon.get(path, headers={"If-Modified-Since": "garbage"}).status_code == 200
    path = "/papers/feed.atom?date=2024-05-29"
    etag = anon.get(path).headers["etag"]
    with site.db.write() as conn:
        paper_store.upsert_papers(conn, [Paper(id="2405.00099", title="A late paper")])
        feed_store.add_entries(
            conn,
            [FeedEntry("2405.00099", date(2024, 5, 29), None, datetime(2024, 5, 29, 23), "hf")],
        )
    fresh = anon.get(path, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert fresh.headers["last-modified"] == "Wed, 29 May 2024 23:00:00 GMT"


def test_private_feeds_need_their_token(site: Site, anon: TestClient, ada: TestClient) -> None:
    href, _, _ = _head_feed(ada.get(f"/library/{site.collection}").text)
    assert "token=" in href
    parsed = _parse(anon.get(href).content)
    assert {e.id.rsplit("/", 1)[1] for e in parsed.entries} == {pid for pid, *_ in SEED[:4]}
    assert parsed.feed.title.endswith("Reading <list>")
    assert anon.get(href).headers["cache-control"].startswith("private")
    path, query = href.split("?")
    params = dict(parse_qsl(query))
    assert anon.get(path).status_code == 404  # no cookie and no token
    forged = {**params, "token": "0" * 32}
    assert anon.get(path, params=forged).status_code == 404
    # A token for one list does not open another list of the same member.
    fy, _, _ = _head_feed(ada.get("/for-you").text)
    fy_token = dict(parse_qsl(fy.split("?")[1]))["token"]
    assert anon.get(path, params={**params, "token": fy_token}).status_code == 404
    # Another member cannot read Ada's collection with their own valid-looking link.
    with site.db.write() as conn:
        bob = user_store.create_user(
            conn,
            "bob@example.org",
            "Bob",
            password_hash=auth.hash_password(PASSWORD),
            verified=True,
        )
    assert anon.get(path, params={**params, "member": str(bob.id)}).status_code == 404
    # Changing the password revokes every feed link.
    with site.db.write() as conn:
        user_store.set_password_hash(conn, site.member_id, auth.hash_password(PASSWORD + "!"))
    assert anon.get(href).status_code == 404

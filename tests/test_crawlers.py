"""robots.txt and the sitemap, read by real crawler libraries: Protego (RFC 9309) and USP."""

from __future__ import annotations

import re
import urllib.robotparser
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from _web_helpers import serve
from fastapi.testclient import TestClient
from protego import Protego
from usp.objects.sitemap import AbstractSitemap, InvalidSitemap
from usp.tree import sitemap_tree_for_homepage

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.models import FeedEntry, ImportRecord, Paper
from paperfeed.pipeline import store_records
from paperfeed.service import sitemap as sitemap_service
from paperfeed.store import Database
from paperfeed.store.papers import set_hidden
from paperfeed.web.app import create_app
from paperfeed.web.routes import CATCH_ALL, ROUTES

SAMPLE = {  # a value for each path parameter, so every route has a real URL to ask about
    "day": "2026-08-21",
    "week": "2026-W34",
    "month": "2026-08",
    "arxiv_id": "2401.00001",
    "slug": "ada-lovelace",
    "org_name": "deepmind",
    "part": "2026-08",
}


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE.get(m.group(1), "7"), path)


def _seed(db: Database) -> None:
    def rec(pid: str, day: date) -> ImportRecord:
        paper = Paper(pid, f"Paper {pid}", "An abstract.", ["Ada Lovelace"], ["cs.LG"])
        return ImportRecord(paper, [FeedEntry(pid, day, source="hf")])

    with db.write() as conn:
        store_records(
            conn,
            [
                rec("2607.00001", date(2026, 7, 30)),
                rec("2608.00001", date(2026, 8, 20)),
                rec("2608.00002", date(2026, 8, 21)),
                rec("2608.00003", date(2026, 8, 21)),
                rec("2608.00004", date(2026, 8, 21)),
            ],
        )
        set_hidden(conn, "2608.00004", True)  # a hidden paper is in no sitemap


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[tuple[Settings, TestClient]]:
    _seed(db)
    s = Settings(database_url=db.url, data_dir=str(tmp_path), base_url="https://p.example.org")
    with TestClient(create_app(s, db)) as client:
        yield s, client


def test_robots_opens_exactly_the_public_routes(site: tuple[Settings, TestClient]) -> None:
    _, client = site
    r = client.get("/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    robots = Protego.parse(r.text)
    assert robots.sitemaps and list(robots.sitemaps) == ["https://p.example.org/sitemap.xml"]
    plain = urllib.robotparser.RobotFileParser()  # Python's own reader, which knows no '*'
    plain.parse(r.text.splitlines())
    wrong = []
    for route in [*ROUTES, *CATCH_ALL]:
        if "GET" not in route.methods:
            continue
        url = "https://p.example.org" + _url(route.path)
        if robots.can_fetch(url, "Googlebot") != route.crawl:
            wrong.append(f"{route.name} {url} crawl={route.crawl}")
        if route.crawl and not plain.can_fetch("Googlebot", url):
            wrong.append(f"{route.name} {url} closed for urllib.robotparser")
    assert wrong == []
    for private in ("/api/papers/2401.00001", "/settings/digests", "/search?q=x", "/library/x"):
        assert not plain.can_fetch("Googlebot", "https://p.example.org" + private), private
    assert "x-robots-tag" not in client.get("/papers/2608.00001").headers


def test_a_crawler_walks_the_sitemap_to_every_featured_paper(db: Database, tmp_path: Path) -> None:
    _seed(db)
    with serve(_app_at(db, tmp_path)) as url:
        # USP reads robots.txt, follows its Sitemap line to the index and every part in it.
        tree = sitemap_tree_for_homepage(url + "/", use_known_paths=False)
        pages = {p.url.removeprefix(url) for p in tree.all_pages()}
        invalid = [s for s in _walk(tree) if isinstance(s, InvalidSitemap)]
    assert invalid == []
    assert len(list(_walk(tree))) == 6  # the site, robots.txt, the index, days, two months
    assert pages == {
        "/papers/date/2026-07-30",
        "/papers/date/2026-08-20",
        "/papers/date/2026-08-21",
        "/papers/2607.00001",
        "/papers/2608.00001",
        "/papers/2608.00002",
        "/papers/2608.00003",
    }


def _app_at(db: Database, tmp_path: Path) -> Any:
    """An app whose base_url is the address it is asked at (the port is known only once served)."""
    app = create_app(Settings(database_url=db.url, data_dir=str(tmp_path)), db)

    @app.middleware("http")
    async def own_address(request: Any, call_next: Any) -> Any:
        here = f"http://{request.headers['host']}"
        if app.state.settings.base_url != here:
            app.state.settings = app.state.settings.with_(base_url=here)
        return await call_next(request)

    return app


def _walk(sitemap: AbstractSitemap) -> Iterator[AbstractSitemap]:
    yield sitemap
    for sub in getattr(sitemap, "sub_sitemaps", []):
        yield from _walk(sub)


def test_a_month_larger_than_a_sitemap_is_split(
    site: tuple[Settings, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = site
    monkeypatch.setattr(sitemap_service, "PART_SIZE", 2)
    index = client.get("/sitemap.xml").text
    parts = re.findall(r"/sitemaps/papers/([\d-]+)\.xml", index)
    assert parts == ["2026-07", "2026-08", "2026-08-2"]
    got = [
        re.findall(r"/papers/([\d.]+)</loc>", client.get(f"/sitemaps/papers/{p}.xml").text)
        for p in parts
    ]
    assert got == [["2607.00001"], ["2608.00001", "2608.00002"], ["2608.00003"]]
    lastmod = re.search(r"<lastmod>([^<]+)</lastmod>", index)
    assert lastmod and datetime.fromisoformat(lastmod.group(1)).tzinfo is not None
    for bad in ("2026-08-1", "2026-08-01", "2026-08-3", "2026-13", "1999-01", "x" * 300):
        r = client.get(f"/sitemaps/papers/{bad}.xml")
        assert r.status_code == 404, bad


def test_a_closed_site_asks_every_crawler_to_stay_away(db: Database, tmp_path: Path) -> None:
    _seed(db)
    s = Settings(database_url=db.url, data_dir=str(tmp_path), crawlers="deny")
    with TestClient(create_app(s, db)) as client:
        robots = Protego.parse(client.get("/robots.txt").text)
        assert not robots.can_fetch("https://p.example.org/", "Googlebot")
        assert not list(robots.sitemaps)
        page = client.get("/papers/2608.00001")
        assert page.status_code == 200 and page.headers["x-robots-tag"] == "noindex, nofollow"
        assert client.get("/sitemap.xml").status_code == 404
    with pytest.raises(ConfigError, match="allow or deny"):
        create_app(s.with_(crawlers="maybe"), db)

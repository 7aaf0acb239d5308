"""Author and organization pages and their JSON twins over HTTP: grouping, odd names, 404s, links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from _authors_helpers import add_author_papers
from _community_helpers import Site, community_site
from fastapi.testclient import TestClient

from paperfeed.store import Database


@pytest.fixture
def site(sqlite_db: Database, tmp_path: Path) -> Iterator[Site]:
    add_author_papers(sqlite_db)
    with community_site(sqlite_db, tmp_path, author_page_size=3) as s:
        yield s


@pytest.fixture
def client(site: Site) -> TestClient:
    return site.client()


def test_author_page_lists_people_papers_coauthors_and_upvotes(client: TestClient) -> None:
    r = client.get("/authors/wei-wang")
    assert r.status_code == 200
    text = r.text
    assert "grouped by shared co-authors and categories; 2 people with this name here" in text
    assert "6 papers here" in text and "18 upvotes received" in text
    assert 'href="/authors/wei-wang?person=2611.00001"' in text  # the vision researcher
    assert 'href="/authors/wei-wang?person=2611.00004"' in text  # the physicist
    assert 'href="/authors/li-na"' in text and 'href="/authors/ivan-petrov"' in text
    # Newest first, three a page, with a link to the next.
    ids = re.findall(r'href="/papers/(2611\.\d+)"', text)
    assert ids[:3] == ["2611.00006", "2611.00003", "2611.00005"]
    assert 'href="/authors/wei-wang?p=2"' in text
    # One person: only their papers, and page 2 keeps the person.
    one = client.get("/authors/wei-wang?person=2611.00005")
    assert one.status_code == 200 and "2 papers here by this person" in one.text
    assert "2611.00001" not in re.findall(r'href="/papers/(2611\.\d+)"', one.text)
    two = client.get("/authors/wei-wang?person=2611.00001&p=2")
    assert two.status_code == 200
    assert re.findall(r'href="/papers/(2611\.\d+)"', two.text)[:1] == ["2611.00001"]


def test_names_typed_into_the_url_redirect_to_the_slug(client: TestClient) -> None:
    for typed in ("Wéi Wáng", "WEI-WANG", "wei wang"):
        r = client.get(f"/authors/{quote(typed)}?person=2611.00004", follow_redirects=False)
        assert r.status_code == 308
        assert r.headers["location"] == "/authors/wei-wang?person=2611.00004"


def test_unicode_initials_and_et_al(client: TestClient) -> None:
    paper = client.get("/papers/2611.00007").text
    assert f'href="/authors/{quote("李-飞飞")}"' in paper or 'href="/authors/李-飞飞"' in paper
    assert 'href="/authors/jose-garcia"' in paper and 'href="/authors/y"' in paper
    assert "<li>et al.</li>" in paper  # a placeholder is not a person: no link
    cjk = client.get(f"/authors/{quote('李-飞飞')}")
    assert cjk.status_code == 200 and "李 飞飞" in cjk.text
    assert client.get("/authors/y").status_code == 200
    card = client.get("/papers/date/2026-11-20").text
    assert 'href="/authors/jose-garcia"' in card and ">et al.</a>" not in card


def test_unknown_author_and_page_are_clear_404s(client: TestClient) -> None:
    r = client.get("/authors/nobody-at-all")
    assert r.status_code == 404 and "no papers by an author called" in r.text
    assert client.get("/authors/wei-wang?p=9").status_code == 404
    assert client.get("/authors/wei-wang?person=2611.00008").status_code == 404
    assert client.get("/authors/wei-wang?p=x").status_code == 400
    j = client.get("/api/authors/nobody-at-all")
    assert j.status_code == 404 and "nobody-at-all" in j.json()["error"]
    assert client.get("/authors/et-al").status_code == 404


def test_author_json_twin(client: TestClient) -> None:
    r = client.get("/api/authors/wei-wang", params={"limit": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "Wei Wang" and body["total"] == 6 and body["upvotes"] == 18
    assert body["grouping"].endswith("2 people with this name here")
    assert [p["person"] for p in body["people"]] == ["2611.00001", "2611.00004"]
    assert [p["id"] for p in body["papers"]] == ["2611.00006", "2611.00003"]
    assert r.headers["X-Total-Count"] == "6" and 'rel="next"' in r.headers["Link"]
    one = client.get("/api/authors/wei-wang", params={"person": "2611.00004"}).json()
    assert one["person"] == "2611.00004" and one["total"] == 2
    assert one["coauthors"][0]["slug"] == "ivan-petrov"


def test_organization_page_and_json(client: TestClient) -> None:
    r = client.get("/orgs/example-lab")
    assert r.status_code == 200
    assert "Example Lab" in r.text and "3 papers here" in r.text
    assert 'href="/authors/wei-wang"' in r.text  # a frequent author
    j = client.get("/api/orgs/example-lab").json()
    assert j["organization"]["name"] == "example-lab" and j["total"] == 3
    assert [p["id"] for p in j["papers"]] == ["2611.00007", "2611.00003", "2611.00001"]
    missing = client.get("/orgs/no-such-lab")
    assert missing.status_code == 404 and "no organization called" in missing.text
    assert client.get("/api/orgs/no-such-lab").status_code == 404


def test_author_and_org_pages_advertise_atom_feeds(client: TestClient) -> None:
    page = client.get("/authors/wei-wang").text
    assert '<link rel="alternate" type="application/atom+xml"' in page
    assert 'href="/authors/wei-wang/feed.atom"' in page
    feed = client.get("/authors/wei-wang/feed.atom", params={"person": "2611.00004"})
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom")
    assert "2611.00005" in feed.text and "2611.00001" not in feed.text
    org = client.get("/orgs/example-lab/feed.atom")
    assert org.status_code == 200 and "2611.00007" in org.text
    assert client.get("/authors/nobody-at-all/feed.atom").status_code == 404

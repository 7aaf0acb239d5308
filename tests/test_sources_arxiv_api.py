"""The arXiv API (Atom) source against a loopback server replaying recorded responses."""

from __future__ import annotations

import pytest
from _harvest_helpers import (  # noqa: F401 (fixtures)
    ATOM_DIR,
    Reply,
    Request,
    Upstream,
    no_outside_network_fixture,
    settings_for,
    upstream_fixture,
)

from paperfeed.errors import UpstreamError
from paperfeed.harvest import EXIT_NOTHING_NEW, harvest
from paperfeed.sources.arxiv_api import fetch_ids, parse_feed, search
from paperfeed.sources.http import HttpClient
from paperfeed.store import Database
from paperfeed.store.papers import get_paper

pytestmark = pytest.mark.usefixtures("no_outside_network")

BY_IDS = {
    "1707.08567": "api2026_id_list=1707.08567.xml",
    "1605.08386": "api2026_id_list=1605.08386.xml",
    "0808.05394,1707.08567": "api2026_id_list=0808.05394,1707.08567.xml",
    "astro-ph/0601001": "api2026_id_list=astro-ph_0601001_old_style.xml",
    "1111.2011": "legacy2016_id_list=1111.2011v2.xml",
}
EMPTY = "api2026_id_list=0000.0000.xml"


def atom_app(req: Request) -> Reply:
    if req.path != "/api/query":
        return Reply(b"", 404)
    if "search_query" in req.params:
        start = req.params.get("start", "0")
        return Reply(
            (ATOM_DIR / f"api2026_search_query=all_testing_start{start}_max10.xml").read_bytes()
        )
    if req.params.get("id_list") == "1234.5678":
        return Reply((ATOM_DIR / "api2026_id_list=abc_malformed_error.xml").read_bytes(), 400)
    name = BY_IDS.get(req.params.get("id_list", ""), EMPTY)
    return Reply((ATOM_DIR / name).read_bytes(), content_type="application/atom+xml")


def test_single_id_lookup_is_stored(db: Database, upstream: Upstream) -> None:
    upstream.app = atom_app
    result = harvest(settings_for(upstream, db.url), db, "arxiv-ids", ids=["arXiv:1707.08567v1"])
    assert result.counts.new == 1 and result.exit_code == 0
    assert upstream.requests[0].params == {
        "id_list": "1707.08567",
        "start": "0",
        "max_results": "1",
    }
    with db.read() as conn:
        p = get_paper(conn, "1707.08567")
    assert p is not None and p.categories == ["cs.IT"] and p.version == 1
    assert p.authors[0] == "Kees A. Schouhamer Immink" and len(p.authors) == 34
    assert p.comments is not None and p.comments.startswith("44 pages")


def test_batched_lookup_reports_ids_arxiv_does_not_know(
    sqlite_db: Database, upstream: Upstream
) -> None:
    upstream.app = atom_app
    result = harvest(
        settings_for(upstream, sqlite_db.url),
        sqlite_db,
        "arxiv-ids",
        ids=["0808.05394", "1707.08567"],
    )
    assert result.counts.new == 1 and result.counts.errors == 1
    assert result.problems == ["0808.05394: not found on arXiv"]


def test_many_ids_are_split_into_batches_of_100(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.app = atom_app
    ids = [f"2401.{n:05d}" for n in range(1, 151)]
    result = harvest(settings_for(upstream, sqlite_db.url), sqlite_db, "arxiv-ids", ids=ids)
    sizes = [len(r.params["id_list"].split(",")) for r in upstream.requests]
    assert sizes == [100, 50]
    assert result.pages == 2 and result.counts.errors == 150
    assert result.exit_code == EXIT_NOTHING_NEW


def test_error_entry_raises_with_arxivs_message(upstream: Upstream) -> None:
    upstream.app = atom_app
    settings = settings_for(upstream)
    with (
        HttpClient(settings) as client,
        pytest.raises(UpstreamError, match="incorrect id format for abc"),
    ):
        fetch_ids(client, settings.arxiv_api_url, ["1234.5678"])


def test_empty_feed_is_no_papers() -> None:
    feed = parse_feed((ATOM_DIR / EMPTY).read_bytes())
    assert feed.papers == [] and feed.total == 0


def test_search_pages(upstream: Upstream) -> None:
    upstream.app = atom_app
    settings = settings_for(upstream)
    with HttpClient(settings) as client:
        first = search(client, settings.arxiv_api_url, "all:testing", start=0, max_results=10)
        second = search(client, settings.arxiv_api_url, "all:testing", start=10, max_results=10)
    assert len(first.papers) == 10 and first.total == 214881
    assert second.start == 10 and {p.id for p in first.papers}.isdisjoint(
        p.id for p in second.papers
    )


def test_legacy_feed_fields() -> None:
    feed = parse_feed((ATOM_DIR / "legacy2016_search_query=au_del_maestro.xml").read_bytes())
    by_id = {p.id: p for p in feed.papers}
    assert "cond-mat/0412498" in by_id
    with_doi = [p for p in feed.papers if p.doi]
    assert with_doi and all(p.doi and p.doi.startswith("10.") for p in with_doi)
    one = parse_feed((ATOM_DIR / "legacy2016_id_list=1111.2011v2.xml").read_bytes()).papers[0]
    assert one.version == 2 and one.published is not None and one.updated is not None
    assert one.updated > one.published


def test_truncated_atom_is_an_upstream_error() -> None:
    data = (ATOM_DIR / "api2026_id_list=1707.08567.xml").read_bytes()
    with pytest.raises(UpstreamError, match="malformed or truncated"):
        parse_feed(data[:-40])

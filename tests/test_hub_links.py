"""Hub repos citing a paper: fetched from a loopback Hub, stored, shown, and answered as the Hub does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from _harvest_helpers import (  # noqa: F401 (fixtures)
    Reply,
    Request,
    Upstream,
    no_outside_network_fixture,
    settings_for,
    upstream_fixture,
)
from _web_helpers import seed, serve
from fastapi.testclient import TestClient
from lxml import html as lxml_html

from paperfeed.config import Settings
from paperfeed.errors import UpstreamError
from paperfeed.hub_links import refresh_hub_links
from paperfeed.models import FeedEntry, Paper
from paperfeed.sources.hf_hub import fetch_citing, parse_listing
from paperfeed.sources.http import HttpClient
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import hub_links as link_store
from paperfeed.store import papers as paper_store
from paperfeed.web import create_app

HUB = Path(__file__).resolve().parent / "fixtures" / "hf_hub"
pytestmark = pytest.mark.usefixtures("no_outside_network")

PAPER = "2405.00001"  # a seeded paper (tests/_web_helpers.py SEED)


def _body(name: str) -> bytes:
    return (HUB / f"{name}.json").read_bytes()


def hub_app(upstream: Upstream, *, fail: str = "") -> None:
    """Answer the three listings for PAPER from the fixtures, models over two pages."""

    def app(req: Request) -> Reply:
        kind = req.path.removeprefix("/api/")
        if kind == fail and req.params.get("filter") == f"arxiv:{PAPER}":
            return Reply("upstream broke", 500, content_type="text/plain")
        if req.params.get("filter") not in (f"arxiv:{PAPER}", None):
            return Reply(b"[]", content_type="application/json")
        if kind == "models" and req.params.get("cursor") == "p2":
            return Reply(_body("models_page2"), content_type="application/json")
        if kind == "models":
            nxt = f"{upstream.url}/api/models?filter=arxiv:{PAPER}&cursor=p2"
            return Reply(
                _body("models_page1"),
                content_type="application/json",
                headers={"Link": f'<{nxt}>; rel="next"'},
            )
        if kind in ("datasets", "spaces"):
            return Reply(_body(kind), content_type="application/json")
        return Reply(b"no route", 404)

    upstream.app = app


@pytest.fixture
def hub_settings(upstream: Upstream, db: Database, tmp_path: Path) -> Settings:
    seed(db)
    return settings_for(
        upstream, db.url, hf_hub_url=upstream.url, data_dir=str(tmp_path), embed_model="hash"
    )


def test_a_listing_keeps_public_repos_only_and_rejects_what_is_not_json() -> None:
    repos = parse_listing(_body("models_page1"), "models")
    # The path-traversal id, the private repo and the non-object item are dropped.
    assert [r["id"] for r in repos] == ["tloen/alpaca-lora-7b", "timdettmers/guanaco-33b"]
    assert repos[0] == {
        "id": "tloen/alpaca-lora-7b",
        "author": "tloen",
        "likes": 444,
        "downloads": 1210,
        "private": False,
        "pipeline_tag": "text-generation",
        "library_name": "peft",
        "createdAt": "2023-03-13T21:48:07.000Z",
    }
    with pytest.raises(UpstreamError, match="not valid JSON"):
        parse_listing(b"<html>", "models")
    with pytest.raises(UpstreamError, match="expected a JSON list"):
        parse_listing(b'{"error": "x"}', "models")


def test_fetch_follows_next_pages_on_the_same_host_only(upstream: Upstream) -> None:
    hub_app(upstream)
    settings = settings_for(upstream)
    with HttpClient(settings) as client:
        models = fetch_citing(client, upstream.url, PAPER, "model", keep=2, max_pages=5)
        assert models.total == 3 and models.complete  # the repeated repo on page 2 counts once
        assert [r["id"] for r in models.repos] == [
            "tloen/alpaca-lora-7b",
            "timdettmers/guanaco-33b",
        ]
        first = upstream.requests[0]
        assert first.params == {
            "filter": f"arxiv:{PAPER}",
            "sort": "likes",
            "direction": "-1",
            "limit": "100",
        }
        capped = fetch_citing(client, upstream.url, PAPER, "model", keep=20, max_pages=1)
        assert capped.total == 2 and not capped.complete  # a lower bound, said so

        # A Link header naming another host is not followed (it is the upstream's to write).
        upstream.app = lambda req: Reply(
            _body("datasets"),
            content_type="application/json",
            headers={"Link": '<http://10.0.0.1/api/datasets?cursor=x>; rel="next"'},
        )
        before = len(upstream.requests)
        elsewhere = fetch_citing(client, upstream.url, PAPER, "dataset", keep=5, max_pages=5)
        assert elsewhere.total == 1 and elsewhere.complete
        assert len(upstream.requests) == before + 1


def test_refresh_stores_each_kind_and_a_failure_keeps_the_old_answer(
    upstream: Upstream, db: Database, hub_settings: Settings
) -> None:
    hub_app(upstream)
    rep = refresh_hub_links(hub_settings, db, [PAPER])
    assert (rep.papers, rep.repos, rep.failed) == (1, 4, [])
    with db.read() as conn:
        links = link_store.links_of(conn, PAPER)
    assert links.of("model").total == 3 and len(links.of("model").repos) == 3
    assert links.of("dataset").repos[0]["id"] == "yahma/alpaca-cleaned"
    assert links.of("space").total == 0 and links.fetched_at is not None

    hub_app(upstream, fail="datasets")
    rep = refresh_hub_links(hub_settings.with_(http_retries=0), db, [PAPER, "2405.00002"])
    # The broken listing fails its paper whole; the next paper is still asked about.
    assert rep.failed == [PAPER] and rep.papers == 1
    with db.read() as conn:
        again = link_store.links_of(conn, PAPER)
        other = link_store.links_of(conn, "2405.00002")
    assert again.of("model").total == 3 and again.of("dataset").total == 1
    assert other.fetched_at is not None and other.of("model").total == 0


def test_papers_to_refresh_puts_never_asked_first_then_the_stalest(db: Database) -> None:
    now = datetime(2026, 12, 1, 12)
    papers = [Paper(id=f"2611.0000{i}", title=f"P{i}", published=now) for i in range(1, 6)]
    with db.write() as conn:
        paper_store.upsert_papers(conn, papers)
        feed_store.add_entries(
            conn,
            [
                FeedEntry("2611.00001", (now - timedelta(days=1)).date(), None, None, "hf"),
                FeedEntry("2611.00002", (now - timedelta(days=2)).date(), None, None, "hf"),
                FeedEntry("2611.00003", (now - timedelta(days=3)).date(), None, None, "hf"),
                FeedEntry("2611.00004", (now - timedelta(days=4)).date(), None, None, "hf"),
                FeedEntry("2611.00005", (now - timedelta(days=40)).date(), None, None, "hf"),
            ],
        )
        link_store.save_links(conn, "2611.00003", "model", [], 0, True, now - timedelta(days=9))
        link_store.save_links(conn, "2611.00004", "model", [], 0, True, now - timedelta(days=8))
        link_store.save_links(conn, "2611.00002", "model", [], 0, True, now - timedelta(hours=1))
        chosen = link_store.papers_to_refresh(
            conn,
            featured_since=(now - timedelta(days=14)).date(),
            stale_before=now - timedelta(days=7),
            limit=10,
        )
    # Never asked (newest feature first), then stale (oldest first); fresh and old features wait.
    assert chosen == ["2611.00001", "2611.00003", "2611.00004"]


@pytest.fixture
def linked_site(upstream: Upstream, db: Database, hub_settings: Settings) -> Iterator[str]:
    hub_app(upstream)
    refresh_hub_links(hub_settings, db, [PAPER])
    with serve(create_app(hub_settings, db)) as base:
        yield base


def test_paper_page_and_api_show_the_citing_repos(linked_site: str, upstream: Upstream) -> None:
    page = httpx.get(f"{linked_site}/papers/{PAPER}").text
    doc = lxml_html.fromstring(page)
    heads = [h.text_content().split() for h in doc.xpath("//section[@class='hub-links']//h3")]
    assert [" ".join(h) for h in heads] == [
        "Models citing this paper (3)",
        "Datasets citing this paper (1)",
        "Spaces citing this paper (0)",
    ]
    links = [a.get("href") for a in doc.xpath("//section[@class='hub-links']//a")]
    assert f"{upstream.url}/tloen/alpaca-lora-7b" in links
    assert f"{upstream.url}/datasets/yahma/alpaca-cleaned" in links
    assert "No space cites this paper yet." in page
    # A paper never asked about shows no section at all (not "0 models").
    assert "hub-links" not in httpx.get(f"{linked_site}/papers/2405.00002").text

    api = httpx.get(f"{linked_site}/api/papers/{PAPER}").json()
    assert api["numTotalModels"] == 3 and api["numTotalDatasets"] == 1
    assert api["numTotalSpaces"] == 0 and api["linkedSpaces"] == []
    assert [m["id"] for m in api["linkedModels"]][:1] == ["tloen/alpaca-lora-7b"]
    repos = httpx.get(f"{linked_site}/api/arxiv/{PAPER}/repos").json()
    assert set(repos) == {"models", "datasets", "spaces"}
    assert repos["datasets"][0]["id"] == "yahma/alpaca-cleaned"
    assert "linkedModels" not in httpx.get(f"{linked_site}/api/papers/2405.00002").json()


def test_the_newest_hub_client_reads_linked_repos(linked_site: str) -> None:
    from huggingface_hub import HfApi

    info = HfApi(endpoint=linked_site).paper_info(PAPER)
    assert info.num_total_models == 3 and info.num_total_datasets == 1
    assert info.linked_models is not None and info.linked_models[0].id == "tloen/alpaca-lora-7b"
    assert info.linked_models[0].likes == 444
    assert info.linked_datasets is not None and info.linked_datasets[0].id == "yahma/alpaca-cleaned"
    assert info.linked_spaces == []


def test_hub_links_cli_and_worker_job(
    upstream: Upstream, db: Database, hub_settings: Settings
) -> None:
    from click.testing import CliRunner

    from paperfeed.cli import main
    from paperfeed.worker import run_job

    hub_app(upstream)
    env = {
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_HF_HUB_URL": upstream.url,
        "PAPERFEED_HTTP_MIN_INTERVAL": "0",
    }
    out = CliRunner().invoke(main, ["hub-links", PAPER], env=env)
    assert out.exit_code == 0, out.output
    assert "1 paper(s) refreshed, 4 citing repo(s) counted" in out.output
    # The job picks featured papers by itself: the seeded days are old, so widen the window.
    assert run_job(hub_settings.with_(hub_links_days=10_000), db, "hub_links") == "ran"
    with db.read() as conn:
        asked = {
            pid for pid in ("2405.00002", "2407.00008") if link_store.links_of(conn, pid).fetched_at
        }
    assert asked == {"2405.00002", "2407.00008"}


def test_citation_meta_tags_let_reference_managers_save_the_paper(db: Database) -> None:
    seed(db)
    client = TestClient(create_app(Settings(database_url=db.url), db))
    doc = lxml_html.fromstring(client.get("/papers/2405.00002").text)

    def meta(name: str) -> list[str]:
        return [m.get("content") for m in doc.xpath(f'//head/meta[@name="{name}"]')]

    assert meta("citation_title") == ["Scaling Laws Revisited"]
    assert meta("citation_author") == ["Author 1 A", "Author 1 B", "Ada Lovelace"]
    assert meta("citation_publication_date") == ["2024/05/20"]
    assert meta("citation_arxiv_id") == ["2405.00002"]
    assert meta("citation_pdf_url") == ["https://arxiv.org/pdf/2405.00002"]
    assert meta("citation_doi") == ["10.1000/test.123"]
    # Markup and math in titles become plain text in the tags, never markup in the head.
    hostile = lxml_html.fromstring(client.get("/papers/2405.00004").text)
    title = hostile.xpath('//meta[@name="citation_title"]/@content')[0]
    assert "<script>" in title and not hostile.xpath("//head//script[contains(., 'pwned')]")
    math = lxml_html.fromstring(client.get("/papers/2405.00003").text)
    assert "$" not in math.xpath('//meta[@name="citation_title"]/@content')[0]
    assert json.dumps(meta("citation_title"))  # plain strings

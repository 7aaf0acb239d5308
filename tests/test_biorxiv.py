"""bioRxiv and medRxiv: ids, the interval harvest over recorded pages, its failures, and linking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _harvest_helpers import (  # noqa: F401 (fixtures)
    FIXTURES,
    Reply,
    Request,
    Upstream,
    no_outside_network_fixture,
    settings_env,
    settings_for,
    snapshot,
    upstream_fixture,
    wipe,
)

from paperfeed.errors import InvalidId, UpstreamError
from paperfeed.harvest import EXIT_NOTHING_NEW, harvest
from paperfeed.models import ImportRecord, Paper
from paperfeed.normalize import parse_paper_id, preprint_category
from paperfeed.pipeline import store_records
from paperfeed.sources.biorxiv import categories_of, split_preprint_authors
from paperfeed.store import Database, identities
from paperfeed.store import harvests as harvest_store
from paperfeed.store.papers import count_papers, get_paper

pytestmark = pytest.mark.usefixtures("no_outside_network")

BIORXIV_DIR = FIXTURES / "biorxiv_api"
INTERVAL = {
    s: BIORXIV_DIR / f"details_{s}_2020-01-01_2022-12-31_cursor0_first50.json"
    for s in ("biorxiv", "medrxiv")
}
WINDOW = ("2020-01-01", "2022-12-31")
PAGE = 20  # the recorded 50 items served 20 at a time: three cursor pages per server


def recorded_items(server: str) -> list[dict[str, Any]]:
    return list(json.loads(INTERVAL[server].read_text())["collection"])


def expected_versions(server: str) -> dict[str, int]:
    """Every recorded DOI with its highest recorded version."""
    out: dict[str, int] = {}
    for item in recorded_items(server):
        out[item["doi"]] = max(out.get(item["doi"], 0), int(item["version"]))
    return out


def page_body(items: list[dict[str, Any]], cursor: int, total: int) -> str:
    message = {
        "status": "ok",
        "category": "all",
        "interval": "2020-01-01:2022-12-31",
        "cursor": cursor,
        "count": len(items),
        "total": str(total),  # a string, as the API sends it
    }
    return json.dumps({"messages": [message], "collection": items})


NO_POSTS = json.dumps({"messages": [{"status": "no posts found"}], "collection": []})


def interval_app(
    stall_at: int | None = None,
    stall: threading.Event | None = None,
    override: Callable[[Request], Reply | None] | None = None,
) -> Callable[[Request], Reply]:
    """Serve the recorded interval items of both servers PAGE at a time by cursor."""

    def app(req: Request) -> Reply:
        if override is not None:
            replaced = override(req)
            if replaced is not None:
                return replaced
        parts = req.path.strip("/").split("/")
        if len(parts) != 5 or parts[0] != "details" or parts[1] not in INTERVAL:
            return Reply("no route", 404, content_type="text/plain")
        items = recorded_items(parts[1])
        cursor = int(parts[4])
        chunk = items[cursor : cursor + PAGE]
        return Reply(
            page_body(chunk, cursor, len(items)),
            stall=stall if cursor == stall_at else None,
            content_type="application/json",
        )

    return app


def bio_settings(upstream: Upstream, db: Database, **kw: Any) -> Any:
    return settings_for(upstream, db.url, biorxiv_api_url=upstream.url, **kw)


def run(upstream: Upstream, db: Database, server: str = "biorxiv", **kw: Any) -> Any:
    settings = bio_settings(upstream, db)
    return harvest(settings, db, "biorxiv", server=server, from_=WINDOW[0], to=WINDOW[1], **kw)


def bio_snapshot(db: Database) -> dict[str, Any]:
    out = snapshot(db)
    with db.read() as conn:
        out["identities"] = [
            tuple(r) for r in conn.exec_driver_sql("SELECT * FROM paper_identities ORDER BY value")
        ]
    return out


def state_of(db: Database, key: str) -> dict[str, Any]:
    with db.read() as conn:
        return json.loads(harvest_store.get_state(conn, key) or "{}")


# --- ids ---


@pytest.mark.parametrize(
    ("text", "source", "pid", "version"),
    [
        ("10.1101/2021.09.30.462652", "biorxiv", "10.1101/2021.09.30.462652", None),
        ("10.1101/2021.09.30.462652v2", "biorxiv", "10.1101/2021.09.30.462652", 2),
        ("doi:10.1101/001768", "biorxiv", "10.1101/001768", None),
        (
            "https://doi.org/10.1101/2021.06.14.21258493",
            "medrxiv",
            "10.1101/2021.06.14.21258493",
            None,
        ),
        (
            "https://www.biorxiv.org/content/10.1101/2021.09.30.462652v2.full.pdf",
            "biorxiv",
            "10.1101/2021.09.30.462652",
            2,
        ),
        (
            "https://www.medrxiv.org/content/10.1101/2021.12.11.21267504v3",
            "medrxiv",
            "10.1101/2021.12.11.21267504",
            3,
        ),
        ("2401.01234v3", "arxiv", "2401.01234", 3),
        ("https://arxiv.org/abs/hep-th/9901001", "arxiv", "hep-th/9901001", None),
    ],
)
def test_one_parser_for_every_paper_id(
    text: str, source: str, pid: str, version: int | None
) -> None:
    parsed = parse_paper_id(text)
    assert (parsed.source, parsed.id, parsed.version) == (source, pid, version)


@pytest.mark.parametrize(
    "text", ["10.1101/abc", "10.1016/j.isci.2022.105906", "10.1101/2021.09.30.462652v0", "cs/x"]
)
def test_bad_ids_name_the_expected_forms(text: str) -> None:
    with pytest.raises(InvalidId, match="expected|start at v1"):
        parse_paper_id(text)


def test_authors_and_categories_of_the_api() -> None:
    assert split_preprint_authors("Durrieu, L.; Janzen, D. L. I.; Colman-Lerner, A.") == [
        "L. Durrieu",
        "D. L. I. Janzen",
        "A. Colman-Lerner",
    ]
    assert preprint_category("biorxiv", "systems biology") == "biorxiv.systems-biology"
    assert preprint_category("medrxiv", "HIV/AIDS") == "medrxiv.hiv-aids"
    bio = dict(categories_of("biorxiv"))
    assert "biorxiv.cell-biology" in bio and "medrxiv.oncology" in dict(categories_of("medrxiv"))
    # Every recorded category is one of its server's browsable ones.
    for server in INTERVAL:
        listed = dict(categories_of(server))
        for item in recorded_items(server):
            assert preprint_category(server, item["category"]) in listed


# --- the harvest ---


def test_recorded_pages_give_exactly_the_recorded_papers(db: Database, upstream: Upstream) -> None:
    upstream.app = interval_app()
    bio = run(upstream, db, "biorxiv")
    med = run(upstream, db, "medrxiv")
    want = {**expected_versions("biorxiv"), **expected_versions("medrxiv")}
    assert len(want) == 40 + 49
    with db.read() as conn:
        rows = conn.exec_driver_sql("SELECT id, version, source FROM papers").all()
        old = get_paper(conn, "10.1101/001768")
        kinds = identities.identities_for(conn, "10.1101/001768")
    assert {r[0]: r[1] for r in rows} == want
    assert {r[0] for r in rows if r[2] == "medrxiv"} == set(expected_versions("medrxiv"))
    assert bio.counts.new == 40 and bio.counts.errors == 0 and bio.pages == 3
    assert med.counts.new == 49 and med.pages == 3
    # The cursor follows the API's count to its total; the category filter is not sent.
    paths = [r.path for r in upstream.requests]
    assert paths[:3] == [f"/details/biorxiv/{WINDOW[0]}/{WINDOW[1]}/{c}" for c in (0, 20, 40)]
    assert all("category" not in r.params for r in upstream.requests)
    # Old-style DOIs, split authors, the journal DOI as an identity, the licence as a URL.
    assert old is not None and old.version == 2 and old.source == "biorxiv"
    assert old.authors[0] == "L. Durrieu" and old.categories == ["biorxiv.systems-biology"]
    assert old.doi == "10.1016/j.isci.2022.105906"
    assert old.license == "https://creativecommons.org/licenses/by-nc-nd/4.0/"
    assert old.abs_url == "https://www.biorxiv.org/content/10.1101/001768v2"
    assert kinds == [("biorxiv", "10.1101/001768"), ("journal", "10.1016/j.isci.2022.105906")]
    assert state_of(db, "biorxiv") == {"cursor": WINDOW[1], "pending": None}


def test_rerun_is_unchanged_and_versions_never_go_back(db: Database, upstream: Upstream) -> None:
    upstream.app = interval_app()
    run(upstream, db)
    before = bio_snapshot(db)
    again = run(upstream, db)
    assert again.counts.new == 0 and again.counts.updated == 0
    assert again.exit_code == EXIT_NOTHING_NEW
    assert bio_snapshot(db) == before
    # An answer listing only an older version changes nothing that is set.
    v1 = [i for i in recorded_items("biorxiv") if i["doi"] == "10.1101/001768"][0]
    old = {**v1, "version": "1", "date": "2014-01-01", "title": "Old title"}
    upstream.app = lambda req: Reply(page_body([old], 0, 1), content_type="application/json")
    run(upstream, db)
    with db.read() as conn:
        p = get_paper(conn, "10.1101/001768")
    assert p is not None and p.version == 2 and p.title == v1["title"]
    assert p.published is not None and p.published.year == 2014  # a gap an older version fills


def test_a_category_and_medrxiv_have_their_own_cursors(db: Database, upstream: Upstream) -> None:
    upstream.app = interval_app()
    run(upstream, db, "medrxiv", category="Cell Biology")
    assert upstream.requests[0].params == {"category": "cell_biology"}
    assert state_of(db, "medrxiv:cell_biology")["cursor"] == WINDOW[1]
    assert state_of(db, "biorxiv") == {}


def test_no_posts_found_is_a_successful_empty_run(db: Database, upstream: Upstream) -> None:
    upstream.app = lambda req: Reply(NO_POSTS, content_type="application/json")
    result = run(upstream, db)
    assert result.exit_code == EXIT_NOTHING_NEW and result.status == "nothing-new"
    assert result.pages == 1 and len(upstream.requests) == 1
    assert state_of(db, "biorxiv") == {"cursor": WINDOW[1], "pending": None}


def test_the_recorded_short_page_is_refused_as_truncated(db: Database, upstream: Upstream) -> None:
    # The recorded answer announces 100 items but holds 50: stored, it would lose 50 silently.
    raw = INTERVAL["biorxiv"].read_text()
    upstream.app = lambda req: Reply(raw, content_type="application/json")
    with pytest.raises(UpstreamError, match="truncated answer \\(50 of the 100"):
        run(upstream, db)
    with db.read() as conn:
        assert count_papers(conn) == 0
    assert state_of(db, "biorxiv").get("cursor") is None


def test_a_cut_page_stores_nothing_from_it_and_resumes(db: Database, upstream: Upstream) -> None:
    def cut(req: Request) -> Reply | None:
        if req.path.endswith("/20"):
            body = page_body(recorded_items("biorxiv")[20:40], 20, 50)
            return Reply(body[: len(body) // 2], content_type="application/json")
        return None

    upstream.app = interval_app(override=cut)
    with pytest.raises(UpstreamError, match="not valid JSON.*run the same command again"):
        run(upstream, db)
    first_page = {i["doi"] for i in recorded_items("biorxiv")[:20]}
    with db.read() as conn:
        assert {r[0] for r in conn.exec_driver_sql("SELECT id FROM papers")} == first_page
    assert state_of(db, "biorxiv")["pending"]["resume"] == "20"
    upstream.app = interval_app()
    upstream.requests.clear()
    result = run(upstream, db)
    assert result.resumed and [r.path.rsplit("/", 1)[1] for r in upstream.requests] == ["20", "40"]
    with db.read() as conn:
        assert count_papers(conn) == 40


def test_503_with_retry_after_is_retried(db: Database, upstream: Upstream) -> None:
    busy = Reply("busy", 503, headers={"Retry-After": "1"}, content_type="text/plain")
    sent: list[float] = []

    def flaky(req: Request) -> Reply | None:
        sent.append(time.monotonic())
        return busy if len(sent) == 1 else None

    upstream.app = interval_app(override=flaky)
    result = run(upstream, db)
    assert result.counts.new == 40 and len(upstream.requests) == 4
    assert sent[1] - sent[0] >= 0.9  # the client waited as long as Retry-After asked


def test_an_item_with_missing_fields_is_reported_and_the_rest_stored(
    db: Database, upstream: Upstream
) -> None:
    items = recorded_items("biorxiv")[:5]
    broken = [
        {k: v for k, v in items[0].items() if k not in ("title",)},
        {k: v for k, v in items[2].items() if k != "date"},
        {"doi": 12},
        "not an object",
    ]
    good = [i for i in items if i["doi"] not in (items[0]["doi"], items[2]["doi"])]
    upstream.app = lambda req: Reply(
        page_body(broken + good, 0, len(broken + good)), content_type="application/json"
    )
    result = run(upstream, db)
    assert result.counts.errors == 4 and result.status == "ok"
    assert any("has no title" in p for p in result.problems)
    assert any("date is missing" in p for p in result.problems)
    with db.read() as conn:
        stored = {r[0] for r in conn.exec_driver_sql("SELECT id FROM papers")}
    assert stored == {i["doi"] for i in good}


def test_killed_harvest_resumes_to_the_same_database(
    db: Database, upstream: Upstream, tmp_path: Path
) -> None:
    upstream.app = interval_app()
    run(upstream, db)
    clean = bio_snapshot(db)
    wipe(db)

    # The page at cursor 20 stalls, so the process is killed after the first page committed.
    stall = threading.Event()
    upstream.app = interval_app(stall_at=20, stall=stall)
    upstream.requests.clear()
    settings = bio_settings(upstream, db, http_timeout=120.0)
    env = {**os.environ, **settings_env(settings), "PAPERFEED_BIORXIV_API_URL": upstream.url}
    cmd = [sys.executable, "-m", "paperfeed", "harvest", "biorxiv", "--from", WINDOW[0]]
    cmd += ["--to", WINDOW[1], "--quiet"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not (state_of(db, "biorxiv").get("pending") and len(upstream.requests) == 2):
            assert time.monotonic() < deadline, "timed out waiting for the first page"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stall.set()
    with db.read() as conn:
        assert count_papers(conn) == len({i["doi"] for i in recorded_items("biorxiv")[:PAGE]})
    upstream.requests.clear()
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed an interrupted run" in rerun.stdout
    assert [r.path.rsplit("/", 1)[1] for r in upstream.requests] == ["20", "40"]
    assert bio_snapshot(db) == clean


# --- one paper, several identities ---


def _arxiv(pid: str, doi: str | None) -> ImportRecord:
    return ImportRecord(
        Paper(pid, "An arXiv twin", "Abstract.", ["A. Author"], ["q-bio.GN"], doi=doi)
    )


def test_a_preprint_of_an_arxiv_paper_is_linked_not_doubled(
    db: Database, upstream: Upstream
) -> None:
    with db.write() as conn:
        store_records(conn, [_arxiv("2109.00001", "10.1101/2021.09.30.462652")])
    body = (BIORXIV_DIR / "details_biorxiv_doi_10.1101_2021.09.30.462652.json").read_text()
    upstream.app = lambda req: Reply(body, content_type="application/json")
    run(upstream, db)
    with db.read() as conn:
        assert count_papers(conn) == 1
        assert identities.canonical(conn, "10.1101/2021.09.30.462652") == "2109.00001"
        assert identities.identities_for(conn, "2109.00001") == [
            ("arxiv", "2109.00001"),
            ("biorxiv", "10.1101/2021.09.30.462652"),
        ]


def test_a_late_link_through_a_journal_doi_hides_the_second_record(db: Database) -> None:
    journal = "10.1016/J.JBI.2022.104265"  # DOIs ignore case
    med = Paper("10.1101/2021.12.11.21267504", "A medRxiv paper", "Abstract.", source="medrxiv")
    with db.write() as conn:
        store_records(conn, [ImportRecord(med), _arxiv("2112.00002", journal)])
    with db.read() as conn:
        assert count_papers(conn) == 2  # nothing says yet that they are one paper
    med.doi, med.version = journal.lower(), 3
    with db.write() as conn:
        store_records(conn, [ImportRecord(med)])
    with db.read() as conn:
        assert get_paper(conn, med.id) is None  # hidden: the arXiv record was there first
        assert identities.canonical(conn, med.id) == "2112.00002"
        values = [v for _, v in identities.identities_for(conn, "2112.00002")]
    assert values == ["2112.00002", med.id, journal.lower()]


# --- a DOI paper on the site ---


def test_a_doi_paper_on_its_page_and_its_day(db: Database, upstream: Upstream) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.config import Settings
    from paperfeed.web import create_app

    with db.write() as conn:
        store_records(conn, [_arxiv("2109.00001", "10.1101/2021.09.30.462652")])
    upstream.app = interval_app()
    run(upstream, db, "medrxiv")
    body = (BIORXIV_DIR / "details_biorxiv_doi_10.1101_2021.09.30.462652.json").read_text()
    upstream.app = lambda req: Reply(body, content_type="application/json")
    run(upstream, db)
    app = create_app(Settings(database_url=db.url), db)
    with TestClient(app) as client:
        med = "10.1101/2021.12.05.21267037"
        page = client.get(f"/papers/{med}")
        if page.status_code == 404:  # not in the recorded interval page: take one that is
            med = next(iter(expected_versions("medrxiv")))
            page = client.get(f"/papers/{med}")
        assert page.status_code == 200, page.text[:300]
        assert f"medRxiv {med}" in page.text and "medRxiv page" in page.text
        # The preprint DOI of an arXiv paper leads to that paper, which shows both identities.
        linked = client.get("/papers/10.1101/2021.09.30.462652v2")
        assert linked.status_code == 200 and str(linked.url).endswith("/papers/2109.00001")
        assert "10.1101/2021.09.30.462652" in linked.text and "bioRxiv" in linked.text
        with db.read() as conn:
            day = conn.exec_driver_sql(
                "SELECT day FROM feed_entries WHERE paper_id = ?"
                if db.dialect == "sqlite"
                else "SELECT day FROM feed_entries WHERE paper_id = %s",
                (med,),
            ).scalar_one()
        listing = client.get(f"/papers/date/{day}")
        assert listing.status_code == 200 and f"/papers/{med}" in listing.text

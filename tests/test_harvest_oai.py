"""Harvesting arXiv OAI-PMH from a loopback server replaying recorded and made-up pages."""

from __future__ import annotations

import json
import re

import pytest
from _harvest_helpers import (  # noqa: F401 (fixtures)
    OAI_DIR,
    RAW_PAGE1,
    RAW_TOKEN,
    Reply,
    Request,
    Upstream,
    list_records,
    no_outside_network_fixture,
    oai_error,
    page2_final,
    raw_record,
    recorded_oai_app,
    settings_for,
    snapshot,
    upstream_fixture,
)
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperfeed.errors import ConfigError, UpstreamError
from paperfeed.harvest import EXIT_NEW, EXIT_NOTHING_NEW, harvest
from paperfeed.sources.arxiv_oai import parse_list_records
from paperfeed.store import Database
from paperfeed.store import harvests as harvest_store
from paperfeed.store.papers import count_papers, get_paper

pytestmark = pytest.mark.usefixtures("no_outside_network")


def recorded_ids() -> set[str]:
    """The ids in the recorded page 1 and the made-up page 2, read with a plain regex."""
    text = RAW_PAGE1.read_text() + page2_final()
    return set(re.findall(r"<identifier>oai:arXiv\.org:([^<]+)</identifier>", text))


def state_of(db: Database, key: str) -> dict | None:
    with db.read() as conn:
        text = harvest_store.get_state(conn, key)
    return json.loads(text) if text else None


def test_recorded_pages_give_exactly_the_recorded_records(db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_oai_app()
    settings = settings_for(upstream, db.url)
    result = harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")

    expected = recorded_ids()
    assert len(expected) == 388
    with db.read() as conn:
        assert count_papers(conn) == 388
        stored = {r[0] for r in conn.exec_driver_sql("SELECT id FROM papers")}
        p = get_paper(conn, "0803.4354")
        runs = harvest_store.recent_runs(conn)
    assert stored == expected
    assert result.counts.new == 388 and result.counts.errors == 0
    assert result.exit_code == EXIT_NEW and result.pages == 2
    # Versions and dates come from arXivRaw: 0803.4354 has six versions.
    assert p is not None and p.version == 6 and p.categories == ["cs.DM"]
    assert p.published is not None and p.published.year == 2008
    assert p.updated is not None and (p.updated.year, p.updated.month) == (2016, 10)
    # The first request names the window, the second only the token.
    first, second = upstream.requests
    assert first.params == {
        "verb": "ListRecords",
        "metadataPrefix": "arXivRaw",
        "from": "2016-10-20",
        "until": "2016-10-21",
        "set": "cs",
    }
    assert second.params == {"verb": "ListRecords", "resumptionToken": RAW_TOKEN}
    ua = first.headers["User-Agent"]
    assert ua.startswith("paperfeed/") and "mailto:ops@example.org" in ua
    assert "https://papers.example.org" in ua
    # The run is recorded and the cursor moved to the window's end.
    assert state_of(db, "arxiv:cs") == {"cursor": "2016-10-21", "pending": None}
    assert runs[0].status == "ok" and runs[0].new == 388 and runs[0].finished_at is not None


def test_rerun_of_a_window_is_idempotent(db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_oai_app()
    settings = settings_for(upstream, db.url)
    harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")
    before = snapshot(db)
    again = harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")
    assert again.counts.new == 0 and again.counts.updated == 0
    assert again.counts.unchanged == 388
    assert again.exit_code == EXIT_NOTHING_NEW and again.status == "nothing-new"
    assert snapshot(db) == before


def test_next_run_starts_at_the_stored_cursor(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.app = recorded_oai_app()
    settings = settings_for(upstream, sqlite_db.url)
    harvest(settings, sqlite_db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")
    upstream.requests.clear()
    harvest(settings, sqlite_db, "arxiv", set_="cs")
    assert upstream.requests[0].params["from"] == "2016-10-21"
    assert "until" not in upstream.requests[0].params


def test_version_never_goes_backwards(db: Database, upstream: Upstream) -> None:
    settings = settings_for(upstream, db.url)
    upstream.script([Reply(list_records(raw_record("2401.00001", versions=3, title="Third")))])
    harvest(settings, db, "arxiv", from_="2026-11-01")
    # An older version arriving later (a mirror lagging behind) fills no newer field.
    upstream.script([Reply(list_records(raw_record("2401.00001", versions=2, title="Second")))])
    older = harvest(settings, db, "arxiv", from_="2026-11-01")
    with db.read() as conn:
        p = get_paper(conn, "2401.00001")
    assert p is not None and p.version == 3 and p.title == "Third"
    assert older.counts.updated == 0
    upstream.script([Reply(list_records(raw_record("2401.00001", versions=4, title="Fourth")))])
    newer = harvest(settings, db, "arxiv", from_="2026-11-01")
    with db.read() as conn:
        p = get_paper(conn, "2401.00001")
    assert p is not None and p.version == 4 and p.title == "Fourth"
    assert newer.counts.updated == 1 and newer.exit_code == EXIT_NEW


def test_truncated_page_stores_nothing_from_it_and_keeps_the_cursor(
    db: Database, upstream: Upstream
) -> None:
    settings = settings_for(upstream, db.url)
    good2 = page2_final()
    broken = {"on": True}

    def app(req: Request) -> Reply:
        if "resumptionToken" in req.params:
            # Cut inside the record: the page must not be half-stored.
            return Reply(good2[: len(good2) // 2]) if broken["on"] else Reply(good2)
        return Reply(RAW_PAGE1.read_bytes())

    upstream.app = app
    with pytest.raises(UpstreamError, match="malformed or truncated XML") as failure:
        harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")
    assert "1 page(s) were stored before the failure (387 new" in str(failure.value)
    assert "run the same command again to resume" in str(failure.value)
    with db.read() as conn:
        assert count_papers(conn) == 387  # page 1 only; nothing of page 2
        assert get_paper(conn, "0804.2273") is None
        run = harvest_store.recent_runs(conn)[0]
    assert run.status == "error" and "truncated" in (run.message or "")
    state = state_of(db, "arxiv:cs")
    assert state is not None and state["cursor"] is None
    assert state["pending"]["resume"] == RAW_TOKEN
    # The next run resumes at the failed page, not at page 1.
    broken["on"] = False
    upstream.requests.clear()
    result = harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")
    assert [r.params.get("resumptionToken") for r in upstream.requests] == [RAW_TOKEN]
    assert result.resumed and result.counts.new == 1
    with db.read() as conn:
        assert count_papers(conn) == 388
    assert state_of(db, "arxiv:cs") == {"cursor": "2016-10-21", "pending": None}


def test_truncated_first_page_stores_nothing(db: Database, upstream: Upstream) -> None:
    data = RAW_PAGE1.read_bytes()
    upstream.script([Reply(data[: len(data) - 200])])
    settings = settings_for(upstream, db.url)
    with pytest.raises(UpstreamError, match="nothing from this page was stored"):
        harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20")
    with db.read() as conn:
        assert count_papers(conn) == 0
    assert state_of(db, "arxiv:cs") in (None, {"cursor": None, "pending": None})


def test_expired_token_restarts_the_window_and_ends_like_a_clean_run(
    db: Database, upstream: Upstream
) -> None:
    settings = settings_for(upstream, db.url)
    upstream.app = recorded_oai_app()
    harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")
    clean = snapshot(db)
    from _harvest_helpers import wipe

    wipe(db)
    # Run 1 stops after page 1 (page 2 answers 404, which is not retried).
    upstream.script([Reply(RAW_PAGE1.read_bytes()), Reply(b"gone", 404)])
    with pytest.raises(UpstreamError, match="HTTP 404"):
        harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")
    # Run 2: the stored token has expired upstream, so the window restarts from its start.
    upstream.requests.clear()
    calls = {"n": 0}
    base = recorded_oai_app()

    def app(req: Request) -> Reply:
        calls["n"] += 1
        if calls["n"] == 1:
            assert req.params.get("resumptionToken") == RAW_TOKEN
            return Reply(oai_error("badResumptionToken", "expired"))
        return base(req)

    upstream.app = app
    result = harvest(settings, db, "arxiv", set_="cs", from_="2016-10-20", until="2016-10-21")
    assert result.restarted and result.resumed
    assert [("resumptionToken" in r.params) for r in upstream.requests] == [True, False, True]
    assert result.counts.new == 1 and result.counts.unchanged == 387
    assert snapshot(db) == clean


def test_bad_token_on_a_fresh_window_is_an_error(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.script([Reply(oai_error("badResumptionToken", "weird"))])
    with pytest.raises(UpstreamError, match="resumption token"):
        harvest(settings_for(upstream, sqlite_db.url), sqlite_db, "arxiv", from_="2026-11-01")


def test_no_records_match_is_a_successful_empty_run(db: Database, upstream: Upstream) -> None:
    upstream.script([Reply(oai_error("noRecordsMatch", "nothing in this window"))])
    result = harvest(
        settings_for(upstream, db.url),
        db,
        "arxiv",
        set_="cs",
        from_="2026-11-01",
        until="2026-11-02",
    )
    assert result.exit_code == EXIT_NOTHING_NEW and result.status == "nothing-new"
    assert state_of(db, "arxiv:cs") == {"cursor": "2026-11-02", "pending": None}


def test_other_oai_errors_fail_with_their_code(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.script([Reply(oai_error("badArgument", "from is malformed"), 400)])
    with pytest.raises(UpstreamError, match="badArgument: from is malformed"):
        harvest(settings_for(upstream, sqlite_db.url), sqlite_db, "arxiv", from_="2026-11-01")
    with sqlite_db.read() as conn:
        assert harvest_store.recent_runs(conn)[0].status == "error"


def test_deleted_records_hide_stored_papers(db: Database, upstream: Upstream) -> None:
    settings = settings_for(upstream, db.url)
    upstream.script(
        [Reply((OAI_DIR / "arXiv_ListRecords_set-physics-hep-ex_2017-12-14.xml").read_bytes())]
    )
    first = harvest(
        settings, db, "arxiv", set_="physics:hep-ex", prefix="arXiv", from_="2017-12-14"
    )
    assert first.counts.new == 3
    deleted = (
        '<record><header status="deleted"><identifier>oai:arXiv.org:1706.05371</identifier>'
        "<datestamp>2017-12-15</datestamp></header></record>"
    )
    upstream.script([Reply(list_records(deleted))])
    second = harvest(
        settings, db, "arxiv", set_="physics:hep-ex", prefix="arXiv", from_="2017-12-15"
    )
    assert second.counts.skipped == 1
    with db.read() as conn:
        assert get_paper(conn, "1706.05371") is None
        hidden = get_paper(conn, "1706.05371", include_hidden=True)
        assert hidden is not None and hidden.title.startswith("Evaluation of Silicon")
        assert get_paper(conn, "1706.09418") is not None


def test_duplicate_ids_are_stored_once(db: Database, upstream: Upstream) -> None:
    rec = raw_record("2411.00002", versions=1, title="Dup")
    upstream.script(
        [
            Reply(list_records(rec + rec, token="t2")),
            Reply(list_records(raw_record("2411.00002", versions=1, title="Dup"), token="")),
        ]
    )
    result = harvest(settings_for(upstream, db.url), db, "arxiv", from_="2026-11-01")
    assert result.counts.new == 1 and result.pages == 2
    with db.read() as conn:
        assert count_papers(conn) == 1


def test_arxiv_format_fields(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.script(
        [Reply((OAI_DIR / "arXiv_ListRecords_set-physics-hep-ex_2017-12-14.xml").read_bytes())]
    )
    harvest(
        settings_for(upstream, sqlite_db.url),
        sqlite_db,
        "arxiv",
        prefix="arXiv",
        from_="2017-12-14",
    )
    assert upstream.requests[0].params["metadataPrefix"] == "arXiv"
    with sqlite_db.read() as conn:
        p = get_paper(conn, "1706.09418")
    assert p is not None
    assert p.authors[:2] == ["Daniel Dercks", "Herbi Dreiner"]
    assert p.categories == ["hep-ph", "hep-ex"]
    assert p.doi == "10.1140/epjc/s10052-017-5414-4"
    assert p.journal_ref == "Eur. Phys. J. C (2017) 77:856"
    assert p.title == "R-Parity Violation at the LHC"


def test_oai_dc_records(sqlite_db: Database, upstream: Upstream) -> None:
    records = ""
    for f in sorted((OAI_DIR / "oai_dc_records").iterdir()):
        pid = f.name.removeprefix("oai_arXiv.org_").removesuffix(".oai_dc.xml")
        body = f.read_text()
        records += (
            f"<record><header><identifier>oai:arXiv.org:{pid}</identifier>"
            f"<datestamp>2007-05-23</datestamp></header><metadata>{body}</metadata></record>"
        )
    upstream.script([Reply(list_records(records))])
    result = harvest(
        settings_for(upstream, sqlite_db.url),
        sqlite_db,
        "arxiv",
        prefix="oai_dc",
        from_="2007-05-23",
    )
    assert result.counts.new == len(list((OAI_DIR / "oai_dc_records").iterdir()))
    with sqlite_db.read() as conn:
        p = get_paper(conn, "0704.0001")
    assert p is not None
    assert p.authors[0] == "C. Balázs"
    assert p.doi == "10.1103/PhysRevD.76.013009"
    assert p.comments == "37 pages, 15 figures; published version"
    assert p.abstract.startswith("A fully differential calculation")


def test_a_malformed_record_is_skipped_and_the_rest_of_its_page_stored(
    db: Database, upstream: Upstream
) -> None:
    good = raw_record("2411.00010", title="Good")
    bad_category = raw_record("2411.00011").replace("stat.ML", "stat.ML evil&lt;b&gt;")
    far_future = raw_record("2411.00012").replace("Mon, 1 Jan 2016", "Fri, 31 Dec 9999")
    controls = raw_record("2411.00013", title="C1&#x85; and DEL&#x7f; controls")
    upstream.script([Reply(list_records(good + bad_category + far_future + controls))])
    result = harvest(settings_for(upstream, db.url), db, "arxiv", from_="2026-11-01")
    assert result.counts.new == 2 and result.counts.errors == 2
    assert re.match(
        r"OAI-PMH page 1 .* record 2 \(oai:arXiv.org:2411.00011\): .*evil<b>", result.problems[0]
    )
    # Its v1 date contradicts the id and is dropped as unknown; the latest version's still fails.
    assert "record 3 (oai:arXiv.org:2411.00012): updated year 9999 is outside" in result.problems[1]
    with db.read() as conn:
        assert get_paper(conn, "2411.00011") is None
        p = get_paper(conn, "2411.00013")
    assert p is not None and p.title == "C1 and DEL controls"


def test_parser_rejects_non_oai_xml() -> None:
    with pytest.raises(UpstreamError, match="not an OAI-PMH response"):
        parse_list_records(b"<html><body>maintenance</body></html>", "arXivRaw")


def test_unknown_format_and_bad_dates_name_the_fix(sqlite_db: Database, upstream: Upstream) -> None:
    settings = settings_for(upstream, sqlite_db.url)
    with pytest.raises(ConfigError, match="arXiv, arXivRaw, oai_dc"):
        harvest(settings, sqlite_db, "arxiv", prefix="marc")
    with pytest.raises(ConfigError, match="2026-11-01"):
        harvest(settings, sqlite_db, "arxiv", from_="yesterday")
    with pytest.raises(
        ConfigError, match="valid sources are arxiv, arxiv-ids, biorxiv, biorxiv-dois, hf"
    ):
        harvest(settings, sqlite_db, "pubmed")
    assert upstream.requests == []


HEP_EX = (OAI_DIR / "arXiv_ListRecords_set-physics-hep-ex_2017-12-14.xml").read_bytes()


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=len(HEP_EX.rstrip()) - 1))
def test_every_truncation_of_a_page_is_rejected(cut: int) -> None:
    with pytest.raises(UpstreamError):
        parse_list_records(HEP_EX[:cut], "arXiv")


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_garbage_is_an_upstream_error_or_a_page(data: bytes) -> None:
    try:
        page = parse_list_records(data, "arXivRaw")
    except UpstreamError:
        return
    assert page.records == []

"""bioRxiv/medRxiv papers all the way through: the demo, filters, a biology-only instance,
every surface a DOI paper reaches, and DOI look-ups on a loopback server replaying recorded answers."""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import bibtexparser
import feedparser
import pytest
from _digest_helpers import SmtpServer, add_subscriber, smtp_settings
from _harvest_helpers import (  # noqa: F401 (fixtures)
    FIXTURES,
    Reply,
    Request,
    Upstream,
    no_outside_network_fixture,
    settings_env,
    upstream_fixture,
)
from _harvest_helpers import settings_for as harvest_settings
from _recommend_helpers import csrf, member, signed_in
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import PREPRINT_SAMPLE, SAMPLES, main
from paperfeed.config import Settings
from paperfeed.digest import send
from paperfeed.errors import ConfigError, Conflict, InvalidInput, NotFound
from paperfeed.harvest import harvest
from paperfeed.matching import match_new
from paperfeed.models import FeedEntry, ImportRecord, Paper
from paperfeed.pipeline import import_files, store_records
from paperfeed.search.sync import run_index
from paperfeed.service import comments, library, submissions, votes
from paperfeed.service import follows as follow_service
from paperfeed.service import sources as source_service
from paperfeed.sources.biorxiv import parse_details
from paperfeed.store import Database, identities
from paperfeed.store import feed as feed_store
from paperfeed.store import follows as follow_store
from paperfeed.store import votes as vote_store
from paperfeed.store.papers import get_paper, upsert_papers
from paperfeed.web import create_app
from paperfeed.worker import scheduled_jobs

BIO = FIXTURES / "biorxiv_api"
MED = (
    "10.1101/2021.12.11.21267504"  # medRxiv, three versions, journal DOI 10.1016/j.jbi.2022.104265
)
MED_JOURNAL = "10.1016/j.jbi.2022.104265"
TWIN = "10.1101/2021.06.14.21258493"  # medRxiv, two versions, journal DOI 10.1093/jamia/ocab243
DAY = date(2021, 12, 13)  # MED's first recorded version
FRIDAY = date(2026, 11, 27)


def _answer(doi: str, server: str) -> bytes:
    return (BIO / f"details_{server}_doi_{doi.replace('/', '_')}.json").read_bytes()


def _record(doi: str, server: str = "medrxiv") -> ImportRecord:
    page, _, _ = parse_details(_answer(doi, server), server, "fixture")
    [record] = page.records
    return record


def _arxiv(pid: str, title: str, doi: str | None = None, day: date = DAY) -> ImportRecord:
    paper = Paper(
        pid,
        title,
        "Transformers for protein language and attention over sequences.",
        ["A. Author"],
        ["cs.LG"],
        published=datetime(2022, 1, 3),
        doi=doi,
    )
    return ImportRecord(paper, [FeedEntry(pid, day, source="arxiv")])


def _seed(db: Database) -> None:
    with db.write() as conn:
        store_records(
            conn,
            [
                _record(MED),
                _arxiv("2112.00001", "An arXiv paper on the same day"),
                _arxiv("2106.00002", "The arXiv twin of a medRxiv preprint", doi=TWIN),
            ],
        )
    with db.write() as conn:
        store_records(conn, [_record(TWIN)])  # linked to the arXiv paper naming its DOI


def _site(db: Database, tmp: Path, **kw: Any) -> tuple[Settings, TestClient]:
    settings = Settings(
        database_url=db.url,
        data_dir=str(tmp / "data"),
        embed_model="hash",
        base_url="http://testserver",
        **kw,
    )
    return settings, TestClient(create_app(settings, db), raise_server_exceptions=False)


# --- 1. the demo ---


def test_the_demo_shows_both_kinds(sqlite_db: Database, tmp_path: Path) -> None:
    summary = import_files(sqlite_db, SAMPLES)
    assert summary.errors == [] and summary.records == 5003
    preprints = [json.loads(line) for line in gzip.open(PREPRINT_SAMPLE, "rt")]
    assert len(preprints) > 90 and {r["source"] for r in preprints} == {"biorxiv", "medrxiv"}
    settings, client = _site(sqlite_db, tmp_path)
    run_index(sqlite_db, settings, embed=False)
    with sqlite_db.read() as conn:
        med = get_paper(conn, MED)
        kinds = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT source FROM papers")}
    assert med is not None and med.version == 3 and med.source == "medrxiv"
    assert kinds == {"arxiv", "biorxiv", "medrxiv"}
    home = client.get("/")
    assert home.status_code == 200 and 'href="/papers/2' in home.text  # the HF days, as before
    for source in ("biorxiv", "medrxiv"):
        day = client.get("/", params={"source": source})
        assert day.status_code == 200 and 'href="/papers/10.1101/' in day.text
        assert 'href="/papers/2' not in day.text  # no arXiv card on a source-filtered day
    page = client.get(f"/papers/{MED}")
    assert page.status_code == 200 and "medRxiv" in page.text and MED_JOURNAL in page.text
    found = client.get("/search", params={"q": "adverse drug reactions source:medrxiv"})
    assert found.status_code == 200 and f'href="/papers/{MED}"' in found.text
    browse = client.get("/api/categories").json()
    assert [g["source"] for g in browse] == ["arxiv", "biorxiv", "medrxiv"]
    assert all(g["total"] > 0 for g in browse)


# --- 2. filters ---


def test_source_and_category_filters_and_their_errors(db: Database, tmp_path: Path) -> None:
    _seed(db)
    _, client = _site(db, tmp_path)
    day = f"/papers/date/{DAY}"
    both = client.get(day)
    assert f'href="/papers/{MED}"' in both.text and 'href="/papers/2112.00001"' in both.text
    med = client.get(day, params={"source": "medrxiv"})
    assert f'href="/papers/{MED}"' in med.text and "/papers/2112.00001" not in med.text
    arx = client.get(day, params={"source": "arxiv"})
    assert f"/papers/{MED}" not in arx.text and 'href="/papers/2112.00001"' in arx.text
    cat = client.get(day, params={"cat": "medrxiv.pharmacology-and-therapeutics"})
    assert f'href="/papers/{MED}"' in cat.text and "/papers/2112.00001" not in cat.text
    # The Atom and BibTeX links of a filtered day keep the filter.
    assert "feed.atom?date=2021-12-13&amp;source=medrxiv" in med.text
    api = client.get("/api/daily_papers", params={"date": str(DAY), "source": "medrxiv"})
    assert [i["paper"]["id"] for i in api.json()] == [MED]
    assert api.json()[0]["paper"]["source"] == "medrxiv"
    arxiv_only = client.get("/api/daily_papers", params={"date": str(DAY), "source": "arxiv"})
    assert "source" not in arxiv_only.json()[0]["paper"]  # arXiv papers answer as before
    listed = client.get("/api/papers", params={"source": ["medrxiv", "biorxiv"]}).json()
    assert {p["id"] for p in listed} == {MED}  # TWIN is linked to its arXiv record
    assert {p["id"] for p in client.get("/api/papers", params={"cat": "cs"}).json()} == {
        "2112.00001",
        "2106.00002",
    }
    latest = client.get("/api/daily_papers", params={"cat": "medrxiv"})
    assert [i["paper"]["id"] for i in latest.json()] == [MED]
    for bad in (
        {"source": "gopher"},
        {"source": "<script>alert(1)</script>"},
        {"cat": "cs.CL'; DROP TABLE papers;--"},
        {"cat": "../../etc"},
        {"source": ",".join(["arxiv"] * 30)},
    ):
        for path in (
            day,
            "/",
            "/papers/feed.atom",
            "/papers/feed.bib",
            "/api/daily_papers",
            "/api/papers",
        ):
            r = client.get(path, params=bad)
            assert r.status_code == 400, (path, bad, r.status_code)
            if "json" not in r.headers["content-type"]:  # an HTML page escapes what it echoes
                assert "<script>alert" not in r.text
    r = client.get("/api/daily_papers", params={"source": "gopher"})
    assert "gopher" in r.json()["error"] and "'medrxiv'" in r.json()["error"]  # says what is valid
    # Categories: every listed medRxiv subject, with the count of stored papers.
    groups = {g["source"]: g for g in client.get("/api/categories").json()}
    med_cats = {c["category"]: c["count"] for c in groups["medrxiv"]["categories"]}
    assert med_cats["medrxiv.pharmacology-and-therapeutics"] == 1
    assert med_cats["medrxiv.oncology"] == 0 and groups["arxiv"]["categories"][0]["count"] == 2
    page = client.get("/categories")
    assert page.status_code == 200 and "Pharmacology and therapeutics" in page.text
    assert 'href="/?cat=medrxiv.pharmacology-and-therapeutics"' in page.text
    paper = client.get(f"/papers/{MED}")
    assert 'href="/categories#cat-medrxiv.pharmacology-and-therapeutics"' in paper.text


def test_source_in_search_keyword_and_hybrid(sqlite_db: Database, tmp_path: Path) -> None:
    _seed(sqlite_db)
    settings, client = _site(sqlite_db, tmp_path)
    run_index(sqlite_db, settings)
    for mode in ("lexical", "hybrid"):
        r = client.get("/api/papers/search", params={"q": "adverse drug reactions", "mode": mode})
        assert r.status_code == 200 and r.headers["X-Search-Mode"] == mode
        assert r.json()[0]["paper"]["id"] == MED
        only = client.get(
            "/api/papers/search", params={"q": "transformers source:medrxiv", "mode": mode}
        )
        assert {i["paper"]["id"] for i in only.json()} <= {MED}
        arxiv = client.get("/api/papers/search", params={"q": "source:arxiv", "mode": mode})
        assert {i["paper"]["id"] for i in arxiv.json()} == {"2112.00001", "2106.00002"}
    page = client.get("/search", params={"q": "drug source:gopher"})
    assert page.status_code == 400 and "not a source" in page.text
    assert client.get(
        "/search", params={"q": "cat:medrxiv.pharmacology-and-therapeutics"}
    ).text.count(f'href="/papers/{MED}"')


# --- 3. a biology-only instance by settings alone ---


def test_a_biology_only_instance(sqlite_db: Database, tmp_path: Path) -> None:
    _seed(sqlite_db)
    bio = {"sources": "biorxiv,medrxiv", "schedule_harvest_biorxiv": "0 4 * * *"}
    settings, client = _site(sqlite_db, tmp_path, **bio)
    jobs = {job.name for job, _ in scheduled_jobs(settings)}
    assert "harvest_biorxiv" in jobs and not jobs & {"harvest_arxiv", "harvest_hf"}
    assert {"harvest_arxiv", "harvest_hf"} <= {j.name for j, _ in scheduled_jobs(Settings())}
    with pytest.raises(ConfigError, match="not among PAPERFEED_SOURCES"):
        harvest(settings, sqlite_db, "arxiv")
    day = client.get(f"/papers/date/{DAY}")
    assert f'href="/papers/{MED}"' in day.text and "/papers/2112.00001" not in day.text
    # A request may narrow the instance's sources, never widen them.
    assert client.get(f"/papers/date/{DAY}", params={"source": "arxiv"}).status_code == 404
    assert [g["source"] for g in client.get("/api/categories").json()] == ["biorxiv", "medrxiv"]
    run_index(sqlite_db, settings, embed=False)
    found = client.get("/api/papers/search", params={"q": "transformers", "mode": "lexical"})
    assert all(i["paper"]["id"].startswith("10.1101/") for i in found.json())
    # Categories narrow the feed and the scheduled harvest's subjects.
    onc = Settings(categories="medrxiv.oncology,medrxiv.pharmacology-and-therapeutics")
    assert source_service.harvest_subjects(onc, "medrxiv") == [
        "oncology",
        "pharmacology and therapeutics",
    ]
    assert source_service.harvest_subjects(onc, "biorxiv") == []
    assert source_service.harvest_subjects(Settings(categories="biorxiv"), "biorxiv") == [None]
    _, narrow = _site(sqlite_db, tmp_path, categories="medrxiv.oncology")
    assert narrow.get(f"/papers/date/{DAY}").status_code == 404
    with pytest.raises(ConfigError, match="PAPERFEED_SOURCES"):
        source_service.instance_filter(Settings(sources="arxiv,gopher"))


# --- 4. every surface a DOI paper reaches ---


def test_a_doi_paper_on_every_surface(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    _seed(db)
    with db.write() as conn:  # also featured today, as a submission would
        feed_store.add_entries(conn, [FeedEntry(MED, FRIDAY, source="medrxiv")])
    settings, client = _site(db, tmp_path)
    # The paper page, its versions, Markdown and BibTeX twins and the JSON API.
    page = client.get(f"/papers/{MED}")
    assert page.status_code == 200 and f"medRxiv {MED}" in page.text
    assert f'href="https://doi.org/{MED_JOURNAL}"' in page.text and "(v3)" in page.text
    r = client.get(f"/papers/{MED}v2", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == f"/papers/{MED}"
    assert client.get(f"/api/papers/{MED}v4").status_code == 404  # no such version
    md = client.get(f"/papers/{MED}.md")
    assert md.status_code == 200 and "Adverse Drug Reactions" in md.text
    bib = client.get(f"/papers/{MED}.bib")
    assert bib.status_code == 200
    [entry] = bibtexparser.parse_string(bib.text).entries
    assert (
        entry.fields_dict["doi"].value == MED
        and entry.fields_dict["howpublished"].value == "medRxiv"
    )
    assert MED_JOURNAL in entry.fields_dict["note"].value and "eprint" not in entry.fields_dict
    api = client.get(f"/api/papers/{MED}").json()
    assert api["id"] == MED and api["source"] == "medrxiv" and api["arxiv"]["version"] == 3
    assert api["identities"] == [
        {"kind": "medrxiv", "value": MED},
        {"kind": "journal", "value": MED_JOURNAL},
    ]
    # All three identities of one paper: an arXiv id, its medRxiv preprint and the journal DOI.
    twin = client.get(f"/papers/{TWIN}")
    assert str(twin.url).endswith("/papers/2106.00002")
    for value in ("2106.00002", TWIN, "10.1093/jamia/ocab243"):
        assert value in twin.text
    with db.read() as conn:
        assert identities.canonical(conn, "10.1093/jamia/ocab243") == "2106.00002"
    # The day page and the Atom feed.
    assert f'href="/papers/{MED}"' in client.get(f"/papers/date/{DAY}").text
    atom = feedparser.parse(client.get("/papers/feed.atom", params={"date": str(DAY)}).content)
    assert not atom.bozo
    links = [e.link for e in atom.entries]
    assert f"http://testserver/papers/{MED}" in links
    # A member's library: save, the library page, the JSON list and the BibTeX export.
    member(db)
    c = signed_in(settings, db, "ada@example.org")
    r = c.post("/library/save", data={"csrf_token": csrf(c, "/library"), "paper_id": MED})
    assert r.status_code in (200, 303)
    [col] = c.get("/api/library").json()["collections"]
    assert f'href="/library/{col["id"]}"' in c.get("/library").text
    assert f'href="/papers/{MED}"' in c.get(f"/library/{col['id']}").text
    assert MED in {p["id"] for p in c.get(f"/api/library/{col['id']}").json()["papers"]}
    exported = bibtexparser.parse_string(c.get(f"/library/{col['id']}/export.bib").text)
    assert [e.fields_dict["doi"].value for e in exported.entries] == [MED]
    # A digest email over real SMTP.
    add_subscriber(db, "reader@example.org")
    with SmtpServer() as server:
        mail = smtp_settings(db, server.port, base_url="https://papers.example.org")
        report = send.run(db, mail, now=datetime(2026, 11, 27, 8, 0))
        assert report.send is not None and report.send.sent == 1
        [got] = server.handler.messages
    text = got.message.get_body(("plain",)).get_content()
    html = got.message.get_body(("html",)).get_content()
    assert f"https://papers.example.org/papers/{MED}" in text
    assert f"https://www.medrxiv.org/content/{MED}v3" in html


def test_a_doi_paper_matches_follows(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    settings = Settings(database_url=db.url, data_dir=str(tmp_path / "data"), embed_model="hash")
    user = member(db)
    older = _record(TWIN)
    older.paper.version = 1  # followed at v1: the recorded v2 is a new version
    with db.write() as conn:  # a category is followed once some paper here lists it
        store_records(conn, [_record("10.1101/2021.12.05.21267037"), older])
    follow_service.follow(db, settings, user, "search", "adverse drug source:medrxiv")
    follow_service.follow(db, settings, user, "search", "adverse drug source:biorxiv")
    follow_service.follow(db, settings, user, "category", "medrxiv")
    follow_service.follow(db, settings, user, "paper_version", f"https://doi.org/{TWIN}")
    assert match_new(db, settings).matches == 0  # what was there before the follows is old news
    with db.write() as conn:
        store_records(conn, [_record(MED), _record(TWIN)])
    assert match_new(db, settings).matches >= 1
    with db.read() as conn:
        matched = {(m.kind, m.paper_id) for m in follow_store.matches_for(conn, user.id)}
    # Not the bioRxiv-only search; the medRxiv category and the new version of the followed one.
    assert matched == {("search", MED), ("category", MED), ("paper_version", TWIN)}


# --- 5. DOI look-ups on a loopback server replaying the recorded answers ---

NO_POSTS = json.dumps({"messages": [{"status": "no posts found"}], "collection": []})


def _details(req: Request) -> Reply:
    parts = req.path.strip("/").split("/", 2)  # details, server, 10.1101/...
    path = BIO / f"details_{parts[1]}_doi_{parts[2].replace('/', '_')}.json"
    body = path.read_text() if len(parts) == 3 and path.exists() else NO_POSTS
    return Reply(body, content_type="application/json")


@pytest.mark.usefixtures("no_outside_network")
def test_backfill_by_doi_with_versions_and_journal_dois(
    db: Database, upstream: Upstream, tmp_path: Path
) -> None:
    upstream.app = _details
    settings = harvest_settings(upstream, db.url, biorxiv_api_url=upstream.url)
    dois = [
        f"https://www.medrxiv.org/content/{MED}v2",
        "doi:10.1101/2021.09.30.462652",
        "10.1101/2022.11.18.516120",
        "10.1101/2099.01.01.000001",  # on neither server
    ]
    env = {**settings_env(settings), "PAPERFEED_BIORXIV_API_URL": upstream.url}
    args = ["harvest", "biorxiv", "--quiet"] + [a for d in dois for a in ("--doi", d)]
    result = CliRunner().invoke(main, args, env=env)
    assert "3 new" in result.output and "not found on bioRxiv or medRxiv" in result.output
    with db.read() as conn:
        med = get_paper(conn, MED)
        bio = get_paper(conn, "10.1101/2021.09.30.462652")
        kinds = identities.identities_for(conn, "10.1101/2022.11.18.516120")
    assert med is not None and med.version == 3 and med.doi == MED_JOURNAL
    assert med.published is not None and med.published.date() == DAY
    assert bio is not None and bio.version == 2 and bio.source == "biorxiv"
    assert kinds == [
        ("biorxiv", "10.1101/2022.11.18.516120"),
        ("journal", "10.1038/s41598-024-51846-6"),
    ]
    asked = [r.path for r in upstream.requests]
    assert asked[0] == f"/details/medrxiv/{MED}"
    # A bioRxiv DOI of medRxiv's shape is asked on the other server when the first has none.
    assert "/details/biorxiv/10.1101/2099.01.01.000001" in asked
    assert "/details/medrxiv/10.1101/2099.01.01.000001" in asked
    bad = CliRunner().invoke(main, ["harvest", "biorxiv", "--doi", "2401.01234"], env=env)
    assert bad.exit_code != 0 and "arXiv id" in bad.output


@pytest.mark.usefixtures("no_outside_network")
def test_a_member_submits_a_preprint_by_url(sqlite_db: Database, upstream: Upstream) -> None:
    upstream.app = _details
    settings = harvest_settings(upstream, sqlite_db.url, biorxiv_api_url=upstream.url)
    user = member(sqlite_db)
    when = datetime(2021, 12, 20, 9, 0)
    paper = submissions.submit(
        sqlite_db, settings, user, f"https://www.medrxiv.org/content/{MED}v1.full.pdf", now=when
    )
    assert paper.id == MED and paper.version == 3 and paper.source == "medrxiv"
    with sqlite_db.read() as conn:
        assert feed_store.days_for(conn, MED) == [when.date()]
        stored = get_paper(conn, MED)
    assert stored is not None and stored.doi == MED_JOURNAL
    with pytest.raises(InvalidInput, match="more than 14 days ago"):
        submissions.submit(
            sqlite_db, settings, user, "10.1101/2022.11.18.516120", now=when.replace(year=2023)
        )
    with pytest.raises(InvalidInput, match="not among PAPERFEED_SOURCES"):
        submissions.submit(sqlite_db, settings.with_(sources="arxiv"), user, TWIN, now=when)
    with pytest.raises(InvalidInput, match="arxiv is not among PAPERFEED_SOURCES"):
        bio_only = settings.with_(sources="biorxiv,medrxiv")
        submissions.submit(sqlite_db, bio_only, user, "2401.01234", now=when)


def _never(*_: Any) -> Any:
    raise AssertionError("a stored paper was looked up upstream")


def test_submitting_another_sources_id_features_the_stored_paper(db: Database) -> None:
    # The medRxiv DOI an arXiv paper names is that paper: submitting it features the arXiv paper
    # and asks no server (before, it was looked up and stored as a link, and the submission of
    # the DOI itself broke the foreign key: a 500).
    with db.write() as conn:
        upsert_papers(conn, [_arxiv("2106.00002", "The arXiv twin", doi=TWIN).paper])  # no day yet
    user = member(db)
    when = datetime(2022, 1, 5, 9, 0)
    paper = submissions.submit(
        db, Settings(), user, TWIN, now=when, lookup=_never, lookup_doi=_never
    )
    assert paper.id == "2106.00002"
    with db.read() as conn:
        assert feed_store.days_for(conn, "2106.00002") == [when.date()]
    with pytest.raises(Conflict, match="2106.00002 was already submitted"):
        submissions.submit(db, Settings(), user, "2106.00002", now=when, lookup=_never)


def test_a_fetched_preprint_that_joins_a_stored_paper_features_that_paper(db: Database) -> None:
    # Not stored yet, so the DOI is looked up; its journal DOI is an arXiv paper's, so the record
    # becomes that paper's identity and the submission goes to the arXiv paper.
    with db.write() as conn:
        arxiv = _arxiv("2106.00003", "Published as", doi="10.1093/jamia/ocab243")
        upsert_papers(conn, [arxiv.paper])
    user = member(db)
    asked: list[str] = []

    def lookup_doi(_: Settings, doi: str) -> Paper:
        asked.append(doi)
        return _record(TWIN).paper

    when = datetime(2021, 6, 20, 9, 0)  # six days after its first version
    paper = submissions.submit(db, Settings(), user, TWIN, now=when, lookup_doi=lookup_doi)
    assert asked == [TWIN] and paper.id == "2106.00003"
    with db.read() as conn:
        assert identities.canonical(conn, TWIN) == "2106.00003"
        assert feed_store.days_for(conn, "2106.00003") == [when.date()]
    with pytest.raises(Conflict, match="already submitted"):
        submissions.submit(db, Settings(), user, TWIN, now=when, lookup_doi=_never)


def test_every_member_action_on_a_linked_id_reaches_the_paper(db: Database) -> None:
    _seed(db)  # TWIN is the arXiv paper 2106.00002's medRxiv record
    user = member(db)
    assert votes.vote(db, user, TWIN).paper_id == "2106.00002"
    assert library.save(db, user, TWIN, []).paper_id == "2106.00002"
    assert library.hide(db, user, f"doi:{TWIN}") == "2106.00002"
    assert comments.add(db, Settings(), user, TWIN, "Same paper, two servers.").paper_id == (
        "2106.00002"
    )
    assert [c.body for c in comments.list_for(db, TWIN)] == ["Same paper, two servers."]
    followed = follow_service.resolve(db, user, "paper_version", TWIN)
    assert followed.target == "2106.00002"
    with db.read() as conn:
        assert vote_store.upvotes_of(conn, "2106.00002") == 1
    assert library.unsave(db, user, TWIN, None) == ("2106.00002", 1)
    with pytest.raises(NotFound):  # an id no paper has is still refused, not invented
        votes.vote(db, user, "10.1101/2099.01.01.000001")

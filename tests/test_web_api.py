"""The JSON API in the Hugging Face Papers shape, checked directly and through huggingface_hub."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from _web_helpers import HOSTILE_TITLE, load_hf_day, seed, serve
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store import Database
from paperfeed.web import create_app

HF_DAYS = Path(__file__).resolve().parent / "fixtures" / "hf_raw_days"


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    """A test client on an app over the seeded database."""
    seed(db)
    with TestClient(create_app(Settings(database_url=db.url, page_size=2), db)) as c:
        yield c


def ids(items: list[dict]) -> list[str]:
    return [i["paper"]["id"] for i in items]


def test_daily_papers_defaults_to_latest_day(client: TestClient) -> None:
    r = client.get("/api/daily_papers")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert ids(r.json()) == ["2407.00008"]


def test_daily_papers_by_date_week_month_ordered_by_upvotes(client: TestClient) -> None:
    day = client.get("/api/daily_papers", params={"date": "2024-05-29"}).json()
    assert ids(day) == ["2405.00005", "2405.00003", "2405.00004", "hep-th/9901001"]
    assert [i["paper"]["upvotes"] for i in day] == [25, 7, 3, 1]
    week = client.get("/api/daily_papers", params={"week": "2024-W22"})
    assert ids(week.json())[:2] == ["2405.00002", "2405.00005"]
    assert len(week.json()) == 6 and week.headers["x-total-count"] == "6"
    month = client.get("/api/daily_papers", params={"month": "2024-06"}).json()
    assert ids(month) == ["2406.00007", "2406.00006"]
    for params in ({"date": "2024-05-30"}, {"date": "9999-12-31"}, {"month": "9999-12"}):
        empty = client.get("/api/daily_papers", params=params)
        assert empty.status_code == 200 and empty.json() == []


def test_daily_papers_submitter_and_sort(client: TestClient) -> None:
    by = client.get("/api/daily_papers", params={"week": "2024-W22", "submitter": "akhaliq"})
    assert len(by.json()) == 6
    nobody = client.get("/api/daily_papers", params={"week": "2024-W22", "submitter": "nobody"})
    assert nobody.json() == [] and nobody.headers["x-total-count"] == "0"
    day = set(ids(client.get("/api/daily_papers", params={"date": "2024-05-29"}).json()))
    for sort in ("publishedAt", "trending"):  # orders are the community feature's to test
        r = client.get("/api/daily_papers", params={"date": "2024-05-29", "sort": sort})
        assert r.status_code == 200 and set(ids(r.json())) == day


def test_daily_papers_paging(client: TestClient) -> None:
    page0 = client.get("/api/daily_papers", params={"week": "2024-W22", "limit": 4}).json()
    page1 = client.get("/api/daily_papers", params={"week": "2024-W22", "limit": 4, "p": 1}).json()
    assert len(page0) == 4 and len(page1) == 2
    assert not set(ids(page0)) & set(ids(page1))


def test_daily_item_shape(client: TestClient) -> None:
    item = client.get("/api/daily_papers", params={"date": "2024-05-27"}).json()[0]
    paper = item["paper"]
    assert paper["id"] == "2405.00002"
    assert paper["title"] == item["title"] == "Scaling Laws Revisited"
    assert paper["summary"] == item["summary"]
    assert [a["name"] for a in paper["authors"]] == ["Author 1 A", "Author 1 B", "Ada Lovelace"]
    assert paper["publishedAt"].endswith("Z") and paper["upvotes"] == 40
    assert item["publishedAt"] == "2024-05-27T08:00:00.000Z"  # when it was featured
    assert paper["submittedOnDailyBy"]["user"] == "akhaliq"
    assert item["submittedBy"]["name"] == "akhaliq"
    assert paper["githubRepo"] == "https://github.com/example/repo"
    assert paper["arxiv"]["primaryCategory"] == "cs.CL"


def test_paper_endpoint(client: TestClient) -> None:
    r = client.get("/api/papers/2405.00002")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "2405.00002" and body["upvotes"] == 40
    assert body["githubStars"] == 321
    assert body["arxiv"]["featuredOn"] == ["2024-05-27"]
    assert body["arxiv"]["doi"] == "10.1000/test.123"
    old = client.get("/api/papers/hep-th/9901001")
    assert old.status_code == 200 and old.json()["id"] == "hep-th/9901001"
    versioned = client.get("/api/papers/2405.00002v2")
    assert versioned.status_code == 200 and versioned.json()["id"] == "2405.00002"
    hostile = client.get("/api/papers/2405.00004").json()
    assert hostile["title"] == HOSTILE_TITLE  # JSON carries the raw text; pages escape it


BAD_REQUESTS = [
    ("/api/papers/9999.99999", 404),
    ("/api/papers/<script>", 404),
    ("/api/papers/1' OR '1'='1", 404),
    ("/api/daily_papers?date=2024-02-30", 400),
    ("/api/daily_papers?date=<script>", 400),
    ("/api/daily_papers?week=2024-W99", 400),
    ("/api/daily_papers?month=2024-1", 400),
    ("/api/papers/search?q=" + "x" * 251, 400),
    ("/api/papers/search?limit=121", 400),
    ("/api/papers/2405.00002v9", 404),
    ("/api/papers?cursor=bm90YWN1cnNvcg", 404),
    ("/api/papers?cursor=%25%25", 400),
    ("/api/daily_papers?p=-1", 400),
    ("/api/daily_papers?limit=0", 400),
    ("/api/daily_papers?limit=1000", 400),
    ("/api/daily_papers?sort=random", 400),
    ("/api/daily_papers?date=0000-01-01", 400),
    ("/api/papers/%00", 404),
    ("/api/nothing", 404),
]


def test_api_errors_are_json(client: TestClient) -> None:
    for url, status in BAD_REQUESTS:
        r = client.get(url)
        assert r.status_code == status, url
        assert r.headers["content-type"].startswith("application/json")
        assert isinstance(r.json()["error"], str) and r.json()["error"], url


def test_huggingface_hub_client_against_a_real_server(sqlite_db: Database) -> None:
    """huggingface_hub's HfApi lists days and reads papers from paperfeed unchanged."""
    from huggingface_hub import HfApi

    loaded = {day.stem: load_hf_day(sqlite_db, day) for day in sorted(HF_DAYS.glob("*.json"))}
    assert loaded["2026-08-21"] == 17
    seed(sqlite_db)  # adds an old-style id and a paper with a hostile title
    app = create_app(Settings(database_url=sqlite_db.url), sqlite_db)
    with serve(app) as base:
        api = HfApi(endpoint=base, token=False)
        papers = list(api.list_daily_papers(date="2026-08-21"))
        assert len(papers) == 17
        assert papers[0].id == "2608.19880"
        assert papers[0].title == "EnvHarness: Awakening Static Worlds for Agent Learning"
        assert papers[0].upvotes == 163
        assert [p.upvotes for p in papers] == sorted((p.upvotes or 0 for p in papers), reverse=True)
        assert papers[0].authors and papers[0].authors[0].name == "Chengsong Huang"
        assert papers[0].submitted_by is not None and papers[0].submitted_by.username == "taesiri"
        assert papers[0].submitted_at is not None and papers[0].submitted_at.year == 2026
        assert papers[0].github_repo == "https://github.com/google-research/envharness"

        mine = list(api.list_daily_papers(date="2026-08-21", submitter="taesiri"))
        assert mine and all(p.submitted_by and p.submitted_by.username == "taesiri" for p in mine)
        assert len(mine) < len(papers)

        week = list(api.list_daily_papers(week="2024-W22", limit=3))
        assert len(week) == 3 and week[0].id == "2405.00002"
        month = list(api.list_daily_papers(month="2025-03", p=1, limit=20))
        assert len(month) == 3  # 23 papers on 2025-03-12: the second page of 20 has 3

        info = api.paper_info("2608.19880")
        assert info.id == "2608.19880"
        assert info.title == papers[0].title and info.upvotes == 163
        assert info.summary and info.summary.startswith("LLM agents learn")
        assert info.published_at is not None and info.published_at.year == 2026
        assert info.submitted_at is not None
        md = api.read_paper("2608.19880")
        assert md.startswith("# EnvHarness: Awakening Static Worlds for Agent Learning")
        assert "LLM agents learn" in md
        old = api.paper_info("hep-th/9901001")
        assert old.title == "An Old-Style Paper on Strings"

        from huggingface_hub.errors import HfHubHTTPError

        with pytest.raises(HfHubHTTPError) as err:
            api.paper_info("2608.99999")
        assert err.value.response.status_code == 404


def test_m0010_keeps_imported_comment_counts_as_a_signal(database_url: str) -> None:
    """Before m0010 num_comments mixed HF's count with comments posted here; after, it counts these."""
    import importlib

    import sqlalchemy as sa

    from paperfeed.models import Paper
    from paperfeed.store import Database
    from paperfeed.store import comments as comment_store
    from paperfeed.store import papers as paper_store
    from paperfeed.store import signals as signal_store
    from paperfeed.store import users as user_store
    from paperfeed.store.migrate import available

    db = Database(database_url)
    try:
        with db.write() as conn:
            for name in available():
                if name >= "m0010":
                    break
                module = importlib.import_module(f"paperfeed.store.migrations.{name}")
                module.upgrade(conn, db.dialect)
            now = sa.bindparam("now", type_=sa.DateTime)
            conn.execute(
                sa.text(
                    "INSERT INTO papers (id, version, title, abstract, authors, categories, "
                    "ext_upvotes, votes, num_comments, hidden, rev, created_at, modified_at) "
                    "VALUES ('2608.19880', 1, 'EnvHarness', '', '[]', '[]', 163, 0, 2, :f, 1, "
                    ":now, :now)"
                ).bindparams(now, sa.bindparam("f", type_=sa.Boolean)),
                {"now": datetime(2026, 8, 21), "f": False},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO users (email, email_key, username, display_name, role, "
                    "created_at) VALUES ('a@x.org', 'a@x.org', 'ada', 'Ada', 'member', :now)"
                ).bindparams(now),
                {"now": datetime(2026, 8, 21)},
            )
            uid = conn.execute(sa.text("SELECT id FROM users")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO comments (paper_id, user_id, body, created_at) "
                    "VALUES ('2608.19880', :uid, 'posted here', :now)"
                ).bindparams(now),
                {"uid": uid, "now": datetime(2026, 8, 22)},
            )  # 2 = HF's 1 + this one
            importlib.import_module("paperfeed.store.migrations.m0010_organizations").upgrade(
                conn, db.dialect
            )
            for name in available():  # the later ones too: the schema module reads their columns
                if name > "m0010_organizations":
                    importlib.import_module(f"paperfeed.store.migrations.{name}").upgrade(
                        conn, db.dialect
                    )
        with db.read() as conn:
            paper = paper_store.get_paper(conn, "2608.19880")
            assert paper is not None and paper.num_comments == 1
            assert len(comment_store.list_comments(conn, "2608.19880")) == 1
            assert signal_store.latest(conn, "2608.19880") == {"hf_comments": 1.0}
            assert paper.organization is None and paper.media_urls == []
            assert user_store.get_user(conn, uid) is not None
        with db.write() as conn:  # new papers and re-imports still write
            paper_store.upsert_papers(
                conn, [Paper(id="2608.19880", title="EnvHarness", num_comments=9)]
            )
        with db.read() as conn:
            paper = paper_store.get_paper(conn, "2608.19880")
            assert paper is not None and paper.num_comments == 1  # imports never set it
    finally:
        db.dispose()


def test_path_parameters_document_the_values_other_routes_answer(sqlite_db: Database) -> None:
    """No path the schema gives to one operation is answered by another route (Starlette decides).

    A fuzzer once sent GET /api/papers/search to the one-paper operation and got the search list.
    """
    import re

    from starlette.routing import Match, Route

    app = create_app(Settings(database_url=sqlite_db.url), sqlite_db)
    schema = app.openapi()
    routes = [r for r in app.router.routes if isinstance(r, Route)]

    def sample(template: str) -> str:
        return re.sub(r"\{[^}]+\}", "2405.18407", template)

    def dispatched(path: str, method: str) -> Route | None:
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        return next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)

    checked = 0
    for op_route in routes:
        if not op_route.include_in_schema or not op_route.param_convertors:  # type: ignore[attr-defined]
            continue
        for method in op_route.methods or ():
            params = schema["paths"][op_route.path_format][method.lower()]["parameters"]
            patterns = {p["name"]: p["schema"].get("pattern") for p in params if p["in"] == "path"}
            for other in routes:
                path = sample(other.path)
                m = op_route.path_regex.match(path)
                if other is op_route or not m or dispatched(path, method) is op_route:
                    continue
                checked += 1
                for name, value in m.groupdict().items():
                    pattern = patterns.get(name)
                    assert pattern and not re.search(pattern, value), (
                        f"{method} {op_route.path_format}: the schema allows {name}={value!r}, "
                        f"but {path} is answered by {other.path}"
                    )
    assert checked >= 3  # search, similar, comments under /api/papers/{arxiv_id}

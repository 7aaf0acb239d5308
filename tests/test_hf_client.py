"""huggingface_hub (newest and oldest supported) and `hf papers` against paperfeed, field by field."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from _web_helpers import serve

from paperfeed.config import Settings
from paperfeed.pipeline import import_files
from paperfeed.store import Database
from paperfeed.store import comments as comment_store
from paperfeed.store import users as user_store
from paperfeed.web import create_app

HF_DAYS = Path(__file__).resolve().parent / "fixtures" / "hf_raw_days"
# The oldest huggingface_hub the test extra allows: 0.26 brought paper_info and list_papers
# (0.24 and 0.25 have no papers API at all; list_daily_papers came with 1.x).
OLDEST = "0.26.*"


def recorded() -> dict[str, list[dict[str, Any]]]:
    """The recorded raw items by day."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(HF_DAYS.glob("*.json"))}


def hub_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def submitter(item: dict[str, Any]) -> dict[str, Any] | None:
    """The recorded submitter of an item (item level first, as huggingface_hub reads it)."""
    return item.get("submittedBy") or item["paper"].get("submittedOnDailyBy")


def squash(text: str) -> str:
    """Text as the importer cleans it: runs of white space become one space."""
    return " ".join(text.split())


def absolute(url: str | None) -> str | None:
    return "https://huggingface.co" + url if url and url.startswith("/") else url


@pytest.fixture
def hub(db: Database, tmp_path: Path) -> Iterator[str]:
    """A paperfeed server on loopback holding the recorded days, imported by the real importer."""
    from paperfeed.search.sync import run_index

    summary = import_files(db, sorted(HF_DAYS.glob("*.json")))
    assert summary.records == 98 and not summary.errors
    settings = Settings(database_url=db.url, data_dir=str(tmp_path), embed_model="hash")
    run_index(db, settings)
    with serve(create_app(settings, db)) as base:
        yield base


def test_newest_client_reads_every_recorded_field(hub: str) -> None:
    """Each recorded item's fields reach huggingface_hub's PaperInfo unchanged."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub, token=False)
    checked = 0
    # One organization row per Hub id: its newest recorded avatar is the one shown everywhere.
    avatars = {
        o["_id"]: o["avatar"]
        for items in recorded().values()
        for i in items
        for o in [i.get("organization") or i["paper"].get("organization")]
        if o
    }
    for day, items in recorded().items():
        got = {p.id: p for p in api.list_daily_papers(date=day, limit=100)}
        assert len(got) == len(items), day
        for item in items:
            raw, info = item["paper"], got[item["paper"]["id"]]
            where = f"{day} {info.id}"
            assert info.submitted_at == hub_time(item["publishedAt"]), where
            assert info.published_at == hub_time(raw["publishedAt"]), where
            assert (info.upvotes or 0) == raw["upvotes"], where  # the client turns 0 into None
            assert info.discussion_id == raw.get("discussionId"), where
            assert info.github_stars == raw.get("githubStars"), where
            assert info.github_repo == raw.get("githubRepo"), where
            assert info.project_page == raw.get("projectPage"), where
            assert info.ai_summary == raw.get("ai_summary"), where
            assert info.ai_keywords == raw.get("ai_keywords"), where
            assert info.comments == 0, where  # nobody commented here: HF's count is a signal
            assert info.isAuthorParticipating == item.get("isAuthorParticipating", False), where
            assert info.__dict__.get("thumbnail") == item.get("thumbnail", item.get("mediaUrl"))
            assert info.__dict__.get("mediaUrls") == item.get("mediaUrls", raw.get("mediaUrls"))
            org = item.get("organization") or raw.get("organization")
            if org:
                assert info.organization is not None, where
                assert info.organization.name == org["name"], where
                assert info.organization.fullname == squash(org["fullname"]), where
                assert info.organization.avatar_url == avatars[org["_id"]], where
            else:
                assert info.organization is None, where
            user = submitter(item)
            if user:
                assert info.submitted_by is not None, where
                assert info.submitted_by.username == (user.get("user") or user["name"]), where
                assert info.submitted_by.fullname == squash(user["fullname"]), where
                assert info.submitted_by.avatar_url == absolute(user["avatarUrl"]), where
            checked += 1
    assert checked == 98

    info = api.paper_info("2608.19880")
    assert info.organization is not None and info.organization.fullname == "Google"
    assert info.github_stars == 8 and info.discussion_id == "6a87afc589e517cbfd75dbe0"
    assert info.submitted_by is not None and info.submitted_by.avatar_url.startswith("https://")
    assert info.submitted_at == hub_time("2026-08-21T00:00:00.000Z")  # submittedOnDailyAt

    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError) as err:
        api.paper_info("2608.19880v7")  # a version that never existed
    assert err.value.response.status_code == 404

    md = api.read_paper("2608.19880")
    assert "## AI summary" in md and "EnvHarness and EnvRigger dynamically" in md
    assert "Keywords: LLM agents, Environment Harness" in md
    assert "- Code: https://github.com/google-research/envharness (8 stars)" in md
    assert "- Project page: https://envharness.com/" in md
    assert "Organization: Google" in md


def test_newest_client_searches_with_the_hubs_limits(hub: str) -> None:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub, token=False)
    found = list(api.list_papers(query="agent", limit=120))
    assert 10 < len(found) <= 98
    items = {i["paper"]["id"]: i for day in recorded().values() for i in day}
    for info in found:
        item = items[info.id]
        assert info.submitted_at == hub_time(item["publishedAt"]), info.id  # not the arXiv date
        assert info.github_stars == item["paper"].get("githubStars"), info.id
        assert info.ai_summary == item["paper"].get("ai_summary"), info.id
        assert (info.upvotes or 0) == item["paper"]["upvotes"]
    top = found[0].__dict__
    assert {p["type"] for p in top["highlightedSummary"]} <= {"text", "highlight"}
    assert any(
        p["type"] == "highlight"
        for p in top["highlightedSummary"] + top.get("highlightedTitle", [])
    )
    joined = "".join(p["text"] for p in top["highlightedSummary"])
    assert "<mark>" not in joined
    # Filter-looking text that is no valid filter is searched, not refused.
    for q in ("year:abc agent", "from:notadate agent", "cat:!! agent"):
        r = httpx.get(f"{hub}/api/papers/search", params={"q": q})
        assert r.status_code == 200 and r.json(), q
    for params in ({"q": "x" * 251}, {"q": "agent", "limit": 121}, {"q": "agent", "limit": 0}):
        r = httpx.get(f"{hub}/api/papers/search", params=params)
        assert r.status_code == 400 and r.json()["error"], params
    r = httpx.get(f"{hub}/api/papers/search", params={"q": "agent", "limit": 5})
    assert int(r.headers["x-total-count"]) > 5
    assert r.headers["link"].endswith('>; rel="next"') and "p=1" in r.headers["link"]


def test_paging_links_cursor_list_and_repos(hub: str) -> None:
    r = httpx.get(f"{hub}/api/daily_papers", params={"date": "2026-08-21", "limit": 10})
    assert r.headers["x-total-count"] == "17"
    nxt = r.headers["link"].split(">")[0].lstrip("<")
    second = httpx.get(nxt)
    assert len(second.json()) == 7 and "link" not in second.headers
    assert not {i["paper"]["id"] for i in r.json()} & {i["paper"]["id"] for i in second.json()}

    seen: list[str] = []
    url: str | None = f"{hub}/api/papers?limit=30"
    while url:
        page = httpx.get(url)
        assert page.status_code == 200
        seen += [p["id"] for p in page.json()]
        link = page.headers.get("link")
        url = link.split(">")[0].lstrip("<") if link else None
    assert len(seen) == len(set(seen)) == 98
    published = [p["publishedAt"] for p in httpx.get(f"{hub}/api/papers?limit=100").json()]
    assert published == sorted(published, reverse=True)
    assert httpx.get(f"{hub}/api/papers", params={"cursor": "%%%"}).status_code == 400
    assert httpx.get(f"{hub}/api/papers", params={"cursor": "bm9wZQ"}).status_code == 404

    repos = httpx.get(f"{hub}/api/arxiv/2608.19880/repos")
    assert repos.status_code == 200
    assert repos.json() == {"models": [], "datasets": [], "spaces": []}
    assert httpx.get(f"{hub}/api/arxiv/2608.99999/repos").status_code == 404
    assert httpx.get(f"{hub}/openapi.json").json()["paths"]["/api/papers/search"]


def test_submitter_and_trending_span_all_days(hub: str) -> None:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub, token=False)
    mine = list(api.list_daily_papers(submitter="taesiri"))
    users = {
        d: {(u.get("user") or u.get("name")) for i in items for u in [submitter(i)] if u}
        for d, items in recorded().items()
    }
    days = {d for d, names in users.items() if "taesiri" in names}
    assert len(days) == 3  # the recorded taesiri submissions span three days
    assert all(p.submitted_by and p.submitted_by.username == "taesiri" for p in mine)
    featured = [
        httpx.get(f"{hub}/api/papers/{p.id}").json()["arxiv"]["featuredOn"][0] for p in mine
    ]
    assert set(featured) == days
    assert featured == sorted(featured, reverse=True)  # newest day first
    trending = list(api.list_daily_papers(sort="trending", limit=100))
    assert len(trending) == 98  # every day, not only the latest


def test_num_comments_counts_comments_shown_here(hub: str, db: Database) -> None:
    before = httpx.get(f"{hub}/api/papers/2608.19880").json()
    assert before["numComments"] == 0  # HF counted 1 there; this instance shows none
    assert httpx.get(f"{hub}/api/papers/2608.19880/comments").json() == []
    with db.write() as conn:
        ada = user_store.create_user(conn, "ada@example.org", "Ada", verified=True)
        comment_store.add_comment(conn, "2608.19880", ada.id, "A comment")
    after = httpx.get(f"{hub}/api/papers/2608.19880").json()
    shown = httpx.get(f"{hub}/api/papers/2608.19880/comments").json()
    assert after["numComments"] == len(shown) == 1


# --- `hf papers`, the command line of the newest client ---


def _hf(base: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("hf", path=str(Path(sys.executable).parent))
    assert exe, "huggingface_hub's `hf` command is missing: pip install -e '.[test]'"
    env = {
        **os.environ,
        "HF_ENDPOINT": base,
        "HF_HOME": str(home),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "NO_COLOR": "1",
    }
    env.pop("HF_TOKEN", None)
    return subprocess.run(
        [exe, "papers", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_hf_papers_cli_against_a_live_server(hub: str, tmp_path: Path) -> None:
    search = _hf(hub, tmp_path, "search", "agent", "--limit", "120", "--format", "json")
    assert search.returncode == 0, search.stderr
    rows = json.loads(search.stdout)
    assert 10 < len(rows) <= 98 and all(r["id"] for r in rows)
    ls = _hf(hub, tmp_path, "ls", "--date", "2026-08-21", "--format", "json")
    assert ls.returncode == 0, ls.stderr
    listed = json.loads(ls.stdout)
    assert len(listed) == 17 and listed[0]["id"] == "2608.19880"
    assert listed[0]["submitted_by_name"] == "taesiri"
    by = _hf(
        hub, tmp_path, "ls", "--submitter", "taesiri", "--sort", "trending", "--format", "json"
    )
    assert by.returncode == 0, by.stderr
    assert json.loads(by.stdout)
    info = _hf(hub, tmp_path, "info", "2608.19880", "--format", "json")
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["organization"]["fullname"] == "Google" and data["github_stars"] == 8
    read = _hf(hub, tmp_path, "read", "2608.19880")
    assert read.returncode == 0 and read.stdout.startswith("# EnvHarness"), read.stderr
    missing = _hf(hub, tmp_path, "info", "2608.19880v7")
    assert missing.returncode != 0 and "not found" in (missing.stderr + missing.stdout)


# --- the oldest supported client, installed into a throwaway folder ---


@pytest.fixture(scope="session")
def oldest_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """huggingface_hub 0.24.x in a folder of its own (for PYTHONPATH), or a skip naming why."""
    target = tmp_path_factory.mktemp("hf024")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--target",
            str(target),
            f"huggingface_hub=={OLDEST}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(
            f"pip could not install huggingface_hub=={OLDEST} (CI can): {proc.stderr[-300:]}"
        )
    return target


OLD_SCRIPT = """
import json, sys
from huggingface_hub import HfApi, __version__
api = HfApi(endpoint=sys.argv[1], token=False)
info = api.paper_info("2608.19880")
found = list(api.list_papers(query="EnvHarness"))
print(json.dumps({
    "version": __version__,
    "title": info.title,
    "upvotes": info.upvotes,
    "submitter": info.submitted_by.fullname if info.submitted_by else None,
    "discussion_id": info.discussion_id,
    "found": [p.id for p in found],
    "search_submitted_at": found[0].submitted_at.isoformat() if found else None,
}))
"""


def test_oldest_supported_client(hub: str, oldest_client: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(oldest_client), "HF_HUB_DISABLE_TELEMETRY": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", OLD_SCRIPT, hub],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["version"].startswith(OLDEST.rstrip("*"))
    assert out["title"].startswith("EnvHarness") and out["upvotes"] == 163
    assert out["submitter"] == "taesiri" and out["discussion_id"] == "6a87afc589e517cbfd75dbe0"
    assert out["found"][0] == "2608.19880"
    assert out["search_submitted_at"] == datetime(2026, 8, 19, 20, tzinfo=UTC).isoformat()


def test_export_and_reimport_keep_the_hub_fields(db: Database, tmp_path: Path) -> None:
    """paperfeed's JSONL export carries organizations, media and submitter details too."""
    from fastapi.testclient import TestClient

    from paperfeed.pipeline import export_jsonl
    from paperfeed.store import open_database

    import_files(db, sorted(HF_DAYS.glob("*.json")))
    out = tmp_path / "export.jsonl"
    with out.open("w") as fh:
        export_jsonl(db, fh)
    copy = open_database(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        import_files(copy, [out])

        def day(database: Database) -> list[dict[str, Any]]:
            app = create_app(Settings(database_url=database.url, data_dir=str(tmp_path)), database)
            with TestClient(app) as client:
                r = client.get("/api/daily_papers", params={"date": "2026-08-21"})
            items = r.json()
            for i in items:  # stars are signals, which the export does not carry
                i.pop("githubStars", None)
                i["paper"].pop("githubStars", None)
            return items

        original, restored = day(db), day(copy)
        assert restored == original
        assert restored[0]["organization"]["fullname"] == "Google"
    finally:
        copy.dispose()

"""The MCP server through the SDK's real client: over stdio and streamable HTTP, newest and oldest SDK."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.pipeline import import_files
from paperfeed.service import tokens
from paperfeed.sources.arxiv_html import parse
from paperfeed.store import Database, open_database
from paperfeed.store import follows as follow_store
from paperfeed.store import fulltexts as fulltext_store
from paperfeed.store import library as library_store
from paperfeed.store import papers as paper_store
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store

TESTS = Path(__file__).resolve().parent
HF_DAYS = TESTS / "fixtures" / "hf_raw_days"
FIXTURES = TESTS / "fixtures"
SERVED = "arxiv.org_html_2501.11120v1.html.gz"  # arXiv's page, 9 sections and 48 references
CLIENT = TESTS / "_mcp_client.py"
ROOT = TESTS.parent
# The oldest SDK pyproject allows (mcp>=2.0): MCPServer and streamable_http_app's options.
OLDEST = ["mcp==2.0.0", "mcp-types==2.0.0"]
TOOLS = {
    "follow",
    "get_paper",
    "hide_paper",
    "list_daily_papers",
    "list_trending",
    "my_follows",
    "my_library",
    "my_recommendations",
    "save_paper",
    "search_papers",
    "similar_papers",
    "submit_paper",
    "upvote",
}


@dataclass
class Site:
    """A seeded database file and the tokens of one member."""

    db: Database
    url: str
    data_dir: Path
    user_id: int
    write: str
    read: str
    revoked: str

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a paperfeed process on this database runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
        env |= {
            "PAPERFEED_DATABASE_URL": self.url,
            "PAPERFEED_DATA_DIR": str(self.data_dir),
            "PAPERFEED_EMBED_MODEL": "hash",
            "PAPERFEED_BASE_URL": "http://paperfeed.test",
            "PAPERFEED_INDEX_ON_START": "false",
            "PAPERFEED_SERVE_SCHEDULER": "false",
        }
        return env | extra


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    """The recorded HF days, indexed, and a confirmed member with write, read and revoked tokens."""
    from paperfeed.search.sync import run_index

    db = open_database(database_url)
    summary = import_files(db, sorted(HF_DAYS.glob("*.json")))
    assert summary.records == 98 and not summary.errors
    data = tmp_path / "data"
    run_index(db, Settings(database_url=database_url, data_dir=str(data), embed_model="hash"))
    with db.write() as conn:
        user = user_store.create_user(conn, "ada@example.org", "Ada", verified=True)
    write = tokens.create_token(db, user, scope="write", name="agent").secret
    read = tokens.create_token(db, user, scope="read").secret
    gone = tokens.create_token(db, user, scope="write")
    tokens.revoke_token(db, user, gone.token.id)
    yield Site(db, database_url, data, user.id, write, read, gone.secret)
    db.dispose()


def _client(site: Site, transport: str, target: str, token: str, plan: str, **env: str) -> Any:
    proc = subprocess.run(
        [sys.executable, str(CLIENT), transport, target, token or "-", plan],
        capture_output=True,
        text=True,
        env=site.env(**env),
        cwd=ROOT,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(site: Site) -> Iterator[str]:
    """`paperfeed serve` in its own process on loopback; yields the /mcp URL."""
    yield from _serve(site)


def _serve(site: Site, **env: str) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=site.env(**env),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {proc.stderr.read()[-2000:]!r}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield base + "/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _check_agent(site: Site, seen: dict[str, Any]) -> None:
    """What an agent saw and did, and that it changed the store as a member's clicks would."""
    assert TOOLS <= set(seen["tools"])
    assert all(seen["descriptions"][t] for t in TOOLS)
    props = seen["search_schema"]["properties"]
    assert {"query", "mode", "category", "author", "limit", "page"} <= set(props)
    assert set(props["mode"]["enum"]) == {"keyword", "semantic", "hybrid"}
    daily = seen["daily"]["data"]
    assert not seen["daily"]["error"] and daily["period"] and len(daily["papers"]) == 3
    assert daily["total"] > 3 and daily["next_page"] == 1
    found = seen["search"]["data"]
    assert not seen["search"]["error"] and found["papers"] and found["mode"] == "lexical"
    first = found["papers"][0]
    # Compact: a one-line summary and links, never the whole abstract.
    assert set(first) >= {"id", "title", "summary", "url", "upvotes"}
    assert len(first["summary"]) <= 240 and first["url"].startswith("http://paperfeed.test/papers/")
    if found["total"] > 5:
        assert found["next_page"] == 1
        assert {p["id"] for p in seen["page2"]["data"]["papers"]}.isdisjoint(
            p["id"] for p in found["papers"]
        )
    pid = seen["pid"]
    with site.db.read() as conn:
        paper = paper_store.get_paper(conn, pid)
    assert paper is not None
    assert not seen["paper"]["error"] and seen["paper"]["data"].startswith(f"# {paper.title}")
    assert "## Abstract" in seen["paper"]["data"] and seen["resource_md"] == seen["paper"]["data"]
    assert seen["resource_latest"]["period"] == daily["period"]
    assert not seen["saved"]["error"] and seen["saved"]["data"]["saved"] is True
    library = seen["library"]["data"]
    assert [p["id"] for p in library["papers"]] == [pid] and library["collections"][0]["size"] == 1
    assert not seen["upvote"]["error"] and seen["upvote"]["data"]["voted"] is True
    assert seen["upvote"]["data"]["upvotes"] == paper.upvotes
    assert not seen["hide"]["error"] and seen["hide"]["data"]["hidden"] is True
    assert not seen["recommendations"]["error"]
    assert pid not in {p["id"] for p in seen["recommendations"]["data"]["papers"]}
    assert not seen["follow"]["error"] and seen["follow"]["data"]["created"] is True
    assert seen["follow"]["data"]["target"] == pid and seen["follow"]["data"]["following"]
    assert seen["follow_nobody"]["error"] and "no paper here" in seen["follow_nobody"]["text"]
    follows = seen["follows"]["data"]
    assert follows["total"] == 1 and follows["follows"][0]["kind"] == "paper_version"
    assert seen["missing"]["error"] and "2101.99999" in seen["missing"]["text"]
    assert seen["bad_date"]["error"] and "YYYY-MM-DD" in seen["bad_date"]["text"]
    # The same rows a member's clicks write: the store is the proof, not the tool's answer.
    with site.db.read() as conn:
        assert pid in library_store.saved_ids(conn, site.user_id)
        assert pid in library_store.hidden_ids(conn, site.user_id)
        assert vote_store.voted(conn, site.user_id, [pid]) == {pid}
        assert [f.target for f in follow_store.list_for(conn, site.user_id)] == [pid]


def _check_reader(seen: dict[str, Any]) -> None:
    assert not seen["trending"]["error"]
    assert not seen["library"]["error"] and isinstance(seen["library"]["data"]["papers"], list)
    for change in ("save", "upvote", "follow"):
        assert seen[change]["error"] and "read-only" in seen[change]["text"], seen[change]


def test_stdio_agent_finds_reads_saves_and_upvotes(site: Site) -> None:
    _check_agent(site, _client(site, "stdio", site.url, site.write, "agent"))


def test_stdio_read_token_and_no_token(site: Site) -> None:
    _check_reader(_client(site, "stdio", site.url, site.read, "reader"))
    anonymous = _client(site, "stdio", site.url, "", "reader")
    assert not anonymous["trending"]["error"]
    assert anonymous["library"]["error"] and "API token" in anonymous["library"]["text"]
    assert anonymous["save"]["error"] and "API token" in anonymous["save"]["text"]


def test_stdio_refuses_a_revoked_token_at_start(site: Site) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "paperfeed", "mcp"],
        env=site.env(PAPERFEED_MCP_TOKEN=site.revoked),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0 and "revoked" in proc.stderr and proc.stdout == ""


def test_http_agent_finds_reads_saves_and_upvotes(site: Site, served: str) -> None:
    _check_agent(site, _client(site, "http", served, site.write, "agent"))


def test_http_read_token_revoked_token_and_no_token(site: Site, served: str) -> None:
    _check_reader(_client(site, "http", served, site.read, "reader"))
    refused = _client(site, "http", served, site.revoked, "reader")
    assert refused.get("connect_error")  # the SDK's client cannot start a session
    r = httpx.post(served, headers={"Authorization": f"Bearer {site.revoked}"}, json={})
    assert r.status_code == 401 and "revoked" in r.json()["error"]
    r = httpx.post(served, headers={"Authorization": "Bearer nonsense"}, json={})
    assert r.status_code == 401 and "unknown token" in r.json()["error"]
    anonymous = _client(site, "http", served, "", "reader")
    assert not anonymous["trending"]["error"] and anonymous["library"]["error"]


def test_writes_share_the_members_rate_limit(site: Site) -> None:
    seen = _client(site, "stdio", site.url, site.write, "burst", PAPERFEED_WRITE_RATE_LIMIT="3")
    errors = [c["error"] for c in seen["calls"]]
    assert errors[:3] == [False] * 3 and all(errors[3:])
    assert "too many posts" in seen["calls"][3]["text"]


def test_hidden_papers_stay_out(site: Site) -> None:
    with site.db.write() as conn:
        paper_store.set_hidden(conn, "2608.19880", True)
    seen = _client(site, "stdio", site.url, site.write, "reader")
    assert seen["save"]["error"]
    assert "2608.19880" not in {p["id"] for p in seen["trending"]["data"]["papers"]}


# --- the oldest supported SDK, installed into a throwaway folder ---


@pytest.fixture(scope="session")
def oldest_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mcp 2.0.0 in a folder of its own (for PYTHONPATH); its dependencies come from the venv."""
    target = tmp_path_factory.mktemp("mcp20")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
        + OLDEST,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"pip could not install {OLDEST} (CI can): {proc.stderr[-300:]}")
    return target


def test_oldest_supported_sdk_over_stdio_and_http(site: Site, oldest_sdk: Path) -> None:
    path = {"PYTHONPATH": os.pathsep.join([str(oldest_sdk), str(ROOT)])}
    seen = _client(site, "stdio", site.url, site.write, "agent", **path)
    assert seen["sdk"] == "2.0.0"
    _check_agent(site, seen)
    for served in _serve(site, **path):
        _check_reader(_client(site, "http", served, site.read, "reader", **path))


def test_agent_reads_the_full_text_by_section_or_the_abstract_with_a_note(site: Site) -> None:
    parsed = parse(gzip.decompress((FIXTURES / "arxiv_html" / SERVED).read_bytes()))
    assert parsed is not None
    paper = Paper(
        id="2501.11120",
        title="Tell me about yourself: LLMs are aware of their learned behaviors",
        abstract="We study behavioral self-awareness.",
        authors=["Jan Betley"],
        license="http://creativecommons.org/licenses/by/4.0/",
    )
    with site.db.write() as conn:
        paper_store.upsert_papers(conn, [paper])
        fulltext_store.save(
            conn, paper.id, "https://arxiv.org/html/2501.11120v1", parsed, version=1
        )
    seen = _client(site, "stdio", site.url, "", "reading")
    text = seen["2501.11120"]["text"]
    assert not seen["2501.11120"]["error"]
    assert "## Abstract" in text and "## Full text" in text and "Make Me Say rules" in text
    assert "#### 3.1 Finetuning on multiple-choice" in text and "## References" in text
    assert seen["resource"] == text
    other = seen["2608.19880"]["text"]
    assert "## Abstract" in other and "Full text not available here, showing the abstract" in other

"""Claiming authorship over HTTP: ORCID evidence from a loopback server, the curators' queue, badges."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _authors_helpers import add_author_papers
from _community_helpers import PASSWORD, Site, community_site, csrf
from _harvest_helpers import Reply, Request, Upstream
from fastapi.testclient import TestClient

from paperfeed.errors import InvalidInput, PermissionDenied
from paperfeed.service import claims as claim_service
from paperfeed.sources.orcid import checksum_ok, parse_orcid, parse_works
from paperfeed.store import Database
from paperfeed.store import comments as comment_store
from paperfeed.store import users as user_store
from paperfeed.web.auth import hash_password

ORCID_DIR = Path(__file__).resolve().parent / "fixtures" / "orcid_api"
WORKS = ORCID_DIR / "v3.0_0000-0002-7262-6251_works.json"
HTTP500 = ORCID_DIR / "v3.0_0000-0002-7262-6251_works_HTTP500.html"
ORCID = "0000-0002-7262-6251"  # the recorded iD; its works list DOI 10.1007/s10957-021-01823-0


class Orcid:
    """A loopback ORCID API answering /v3.0/{iD}/works from the recordings (or its 500 page)."""

    def __init__(self) -> None:
        self.server = Upstream()
        self.failing = False
        self.server.app = self._answer

    def _answer(self, req: Request) -> Reply:
        if req.path != f"/v3.0/{ORCID}/works":
            return Reply(b'{"response-code":404}', 404, content_type="application/json")
        if self.failing:
            return Reply(HTTP500.read_bytes(), 500, content_type="text/html;charset=utf-8")
        return Reply(WORKS.read_bytes(), content_type="application/vnd.orcid+json; qs=4")


@pytest.fixture
def orcid() -> Iterator[Orcid]:
    o = Orcid()
    yield o
    o.server.close()


@pytest.fixture
def site(sqlite_db: Database, tmp_path: Path, orcid: Orcid) -> Iterator[Site]:
    add_author_papers(sqlite_db)
    with community_site(sqlite_db, tmp_path, orcid_api_url=orcid.server.url) as s:
        yield s


def _member(site: Site, email: str, role: str = "member") -> TestClient:
    with site.db.write() as conn:
        user_store.create_user(
            conn,
            email,
            email.split("@")[0].title(),
            password_hash=hash_password(PASSWORD),
            role=role,
            verified=True,
        )
    client = site.client()
    r = client.post(
        "/login",
        data={"csrf_token": csrf(client), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return client


def _claim(client: TestClient, paper: str, position: int, orcid: str = "") -> object:
    page = f"/claims/new?paper={paper}&position={position}"
    return client.post(
        "/claims",
        data={
            "csrf_token": csrf(client, page),
            "paper_id": paper,
            "position": str(position),
            "orcid": orcid,
        },
        follow_redirects=False,
    )


def _user_id(site: Site, email: str) -> int:
    with site.db.read() as conn:
        u = user_store.get_by_email(conn, email)
    assert u is not None
    return u.id


# --- the parser and the iD check ---


def test_orcid_checksum_and_forms() -> None:
    assert parse_orcid("0000-0002-1825-0097") == "0000-0002-1825-0097"
    assert parse_orcid("https://orcid.org/0000-0002-1694-233X") == "0000-0002-1694-233X"
    assert parse_orcid("0000000218250097") == "0000-0002-1825-0097"
    assert parse_orcid("0000-0002-1825-0098") is None  # wrong check digit
    assert parse_orcid("0000-0002-1825") is None and parse_orcid("") is None
    assert checksum_ok("000000021694233X")


def test_parse_recorded_works() -> None:
    works = parse_works(json.loads(WORKS.read_text()))
    assert works.works == 20
    assert "10.1007/s10957-021-01823-0" in works.dois and "10.1364/oe.415052" in works.dois
    # arXiv ids come as type "arxiv" or as arXiv's own DOI (10.48550/arXiv.ID).
    extra = parse_works(
        {
            "group": [
                {
                    "external-ids": {
                        "external-id": [
                            {
                                "external-id-type": "arxiv",
                                "external-id-value": "arXiv:2405.18407v2",
                            },
                            {
                                "external-id-type": "doi",
                                "external-id-value": "10.48550/arXiv.2301.00001",
                            },
                        ]
                    }
                }
            ]
        }
    )
    assert extra.arxiv == {"2405.18407", "2301.00001"}
    with pytest.raises(Exception, match="no 'group' list"):
        parse_works({"error": "x"})


# --- claims over HTTP ---


def test_orcid_works_listing_the_doi_confirm_the_claim(site: Site, orcid: Orcid) -> None:
    ada = _member(site, "ada@example.org")
    paper = ada.get("/papers/2611.00008").text
    assert 'href="/claims/new?paper=2611.00008&amp;position=0"' in paper  # the Claim button
    r = _claim(ada, "2611.00008", 0, f"https://orcid.org/{ORCID}")
    assert r.status_code == 303 and "notice=claim-confirmed" in r.headers["location"]  # type: ignore[attr-defined]
    seen = orcid.server.requests[-1]
    assert seen.path == f"/v3.0/{ORCID}/works" and seen.headers.get("Accept") == "application/json"
    claims = ada.get("/claims").text
    assert (
        "confirmed" in claims and "list this paper&#39;s DOI 10.1007/s10957-021-01823-0" in claims
    )
    # The badge, on the paper page and on cards; no second Claim button for Ada.
    paper = ada.get("/papers/2611.00008").text
    assert "✓ confirmed author" in paper and "/claims/new?paper=2611.00008" not in paper
    visitor = site.client()
    assert "confirmed author" in visitor.get("/papers/date/2026-11-20").text
    assert claim_service.claimed_members(site.db, "2611.00008") == [
        _user_id(site, "ada@example.org")
    ]
    # Bob cannot claim the confirmed position.
    bob = _member(site, "bob@example.org")
    assert _claim(bob, "2611.00008", 0).status_code == 409  # type: ignore[attr-defined]


def test_orcid_http_500_leaves_the_claim_pending_with_a_note(site: Site, orcid: Orcid) -> None:
    orcid.failing = True
    ada = _member(site, "ada@example.org")
    r = _claim(ada, "2611.00008", 0, ORCID)
    assert r.status_code == 303 and "notice=claim-pending" in r.headers["location"]  # type: ignore[attr-defined]
    page = ada.get("/claims").text
    assert "pending" in page and "ORCID did not answer" in page and "HTTP 500" in page
    # Nothing lost: a curator sees it in the queue, with the note, and confirms it.
    root = _member(site, "root@example.org", role="curator")
    queue = root.get("/claims").text
    assert "Waiting for a curator" in queue and "ORCID did not answer" in queue
    cid = re.search(r'id="queue-(\d+)"', queue)
    assert cid
    token = csrf(root, "/claims")
    r2 = root.post(
        f"/claims/{cid.group(1)}",
        data={"csrf_token": token, "action": "confirm"},
        follow_redirects=False,
    )
    assert r2.status_code == 303
    assert "confirmed by curator @root" in ada.get("/claims").text


def test_works_without_the_paper_and_bad_ids_leave_it_to_curators(site: Site) -> None:
    ada = _member(site, "ada@example.org")
    r = _claim(ada, "2611.00001", 0, ORCID)  # the recorded works do not list 2611.00001
    assert "notice=claim-pending" in r.headers["location"]  # type: ignore[attr-defined]
    assert "20 public works of ORCID iD" in ada.get("/claims").text
    bad = _claim(ada, "2611.00002", 1, "0000-0002-1825-0098")
    assert bad.status_code == 400 and "check digit" in bad.text  # type: ignore[attr-defined]
    assert _claim(ada, "2611.00007", 3).status_code == 400  # type: ignore[attr-defined]  # et al.
    assert _claim(ada, "2611.00007", 9).status_code == 400  # type: ignore[attr-defined]
    assert _claim(ada, "2611.00001", 1).status_code == 409  # type: ignore[attr-defined]  # one per paper
    assert _claim(ada, "9999.99999", 0).status_code == 404  # type: ignore[attr-defined]


def test_claims_need_sign_in_and_csrf_and_curators_decide(site: Site) -> None:
    visitor = site.client()
    assert visitor.get("/papers/2611.00008").text.count("/claims/new") == 0
    r = visitor.post("/claims", data={"paper_id": "2611.00008", "position": "0"})
    assert r.status_code == 403
    ada = _member(site, "ada@example.org")
    no_token = ada.post("/claims", data={"paper_id": "2611.00008", "position": "0"})
    assert no_token.status_code == 403
    _claim(ada, "2611.00008", 1)
    mine = ada.get("/claims").text
    cid = re.search(r'id="claim-(\d+)"', mine)
    assert cid and "Waiting for a curator" not in mine
    token = csrf(ada, "/claims")
    denied = ada.post(f"/claims/{cid.group(1)}", data={"csrf_token": token, "action": "confirm"})
    assert denied.status_code == 403
    root = _member(site, "root@example.org", role="admin")
    token = csrf(root, "/claims")
    r = root.post(
        f"/claims/{cid.group(1)}",
        data={"csrf_token": token, "action": "reject"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "rejected" in ada.get("/claims").text
    # A rejected claim can be withdrawn, and then made again.
    token = csrf(ada, "/claims")
    r = ada.post(
        f"/claims/{cid.group(1)}",
        data={"csrf_token": token, "action": "withdraw"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "claim-withdrawn" in r.headers["location"]
    assert _claim(ada, "2611.00008", 1).status_code == 303  # type: ignore[attr-defined]


def test_confirmed_author_comments_badges_participation_and_links(site: Site) -> None:
    ada = _member(site, "ada@example.org")
    _claim(ada, "2611.00008", 0, ORCID)
    uid = _user_id(site, "ada@example.org")
    api = site.client()
    assert api.get("/api/papers/2611.00008").json()["isAuthorParticipating"] is False
    with site.db.write() as conn:
        comment_store.add_comment(conn, "2611.00008", uid, "Author here: code is coming.")
    assert api.get("/api/papers/2611.00008").json()["isAuthorParticipating"] is True
    # Search items say so too, for papers with a feed entry or without one.
    from paperfeed.search.sync import run_index

    run_index(site.db, site.settings.with_(embed_model="hash"))
    title = api.get("/api/papers/2611.00008").json()["title"]
    found = api.get("/api/papers/search", params={"q": f'"{title}"', "mode": "lexical"}).json()
    flags = {i["paper"]["id"]: i["isAuthorParticipating"] for i in found}
    assert flags["2611.00008"] is True and not any(v for k, v in flags.items() if k != "2611.00008")
    daily = api.get("/api/daily_papers", params={"date": "2026-11-20"}).json()
    flags = {i["paper"]["id"]: i["isAuthorParticipating"] for i in daily}
    assert flags["2611.00008"] is True and flags["2611.00001"] is False
    page = ada.get("/papers/2611.00008").text
    assert '<span class="author-badge">✓ author</span>' in page  # beside the comment
    # The links form: saved when valid, refused when not, forbidden for others.
    token = csrf(ada, "/papers/2611.00008")
    ok = ada.post(
        "/claims/links",
        data={
            "csrf_token": token,
            "paper_id": "2611.00008",
            "github_repo": "https://github.com/ada/engine",
            "project_page": "https://ada.dev/",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert api.get("/api/papers/2611.00008").json()["githubRepo"] == "https://github.com/ada/engine"
    for repo, page_url in (
        ("javascript:alert(1)", ""),
        ("https://gitlab.com/x", ""),
        ("", "http://insecure.example"),
    ):
        bad = ada.post(
            "/claims/links",
            data={
                "csrf_token": token,
                "paper_id": "2611.00008",
                "github_repo": repo,
                "project_page": page_url,
            },
        )
        assert bad.status_code == 400, (repo, page_url)
    assert api.get("/api/papers/2611.00008").json()["projectPage"] == "https://ada.dev/"
    bob = _member(site, "bob@example.org")
    token = csrf(bob, "/papers/2611.00008")
    assert "Edit the code and project links" not in bob.get("/papers/2611.00008").text
    r = bob.post(
        "/claims/links",
        data={
            "csrf_token": token,
            "paper_id": "2611.00008",
            "github_repo": "https://github.com/bob/x",
        },
    )
    assert r.status_code == 403


def test_service_rules(site: Site) -> None:
    with site.db.write() as conn:
        unverified = user_store.create_user(conn, "u@example.org", "U")
        member = user_store.create_user(conn, "m@example.org", "M", verified=True)
    with pytest.raises(PermissionDenied):
        claim_service.claim(site.db, site.settings, unverified, "2611.00008", 0)
    result = claim_service.claim(site.db, site.settings, member, "2611.00008", 1)
    assert result.claim.status == "pending" and "curator" in result.message
    with pytest.raises(PermissionDenied):
        claim_service.confirm(site.db, member, result.claim.id)
    with pytest.raises(PermissionDenied):
        claim_service.queue(site.db, member)
    with pytest.raises(InvalidInput):
        claim_service.check_link("https://exa mple.org", "the project page")

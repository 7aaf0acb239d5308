"""Community web flows over HTTP: accounts, submissions, votes, comments, trending, abuse cases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from _community_helpers import (
    PASSWORD,
    Site,
    community_site,
    confirm,
    csrf,
    mailed_link,
    sign_up,
)
from fastapi.testclient import TestClient

from paperfeed.models import FeedEntry, Paper
from paperfeed.ranking.trending import rank
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store
from paperfeed.store import users as user_store
from paperfeed.web.auth import hash_password


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _recent_paper(pid: str, title: str = "A recent paper", days: int = 2) -> Paper:
    return Paper(
        id=pid,
        title=title,
        abstract="We study things.",
        authors=["Grace Hopper", "Alan Turing"],
        categories=["cs.LG"],
        published=_now() - timedelta(days=days),
    )


@pytest.fixture
def site(sqlite_db: Database, tmp_path: Path) -> Iterator[Site]:
    with sqlite_db.write() as conn:
        paper_store.upsert_papers(
            conn, [_recent_paper("2611.00001", "Fresh results"), _recent_paper("2611.00002")]
        )
    with community_site(sqlite_db, tmp_path, submission_max_age_days=14) as s:
        yield s


def _member(site: Site, email: str = "ada@example.org", name: str = "Ada") -> TestClient:
    client = site.client()
    sign_up(site, client, email, name)
    return client


def _make_user(site: Site, email: str, role: str = "member") -> TestClient:
    with site.db.write() as conn:
        user_store.create_user(
            conn,
            email,
            email.split("@")[0],
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


def _count(db: Database, table: str) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


# --- the whole journey, on both databases ------------------------------------------------------


def test_signup_verify_submit_upvote_comment_trending(db: Database, tmp_path: Path) -> None:
    with community_site(db, tmp_path, submission_max_age_days=100_000) as site:
        client = site.client()
        sign_up(site, client, "Ada@Example.org", "Ada Lovelace")
        assert "Ada Lovelace" in client.get("/settings").text

        # Submit by a versioned abs URL: the paper is fetched from the (loopback) arXiv API.
        r = client.post(
            "/submit",
            data={
                "csrf_token": csrf(client, "/submit"),
                "paper": "https://arxiv.org/abs/1707.08567v1",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert [q.params.get("id_list") for q in site.arxiv.requests] == ["1707.08567"]
        home = client.get("/").text
        assert 'Submitted by <span class="submitter">ada-lovelace</span>' in home

        # Upvote through the plain form, then take it back and vote again through the JSON path.
        token = csrf(client, "/")
        r = client.post(
            "/vote",
            data={"csrf_token": token, "paper_id": "1707.08567", "action": "up", "next": "/"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        r = client.post(
            "/vote",
            data={"csrf_token": token, "paper_id": "1707.08567", "action": "remove"},
            headers={"Accept": "application/json"},
        )
        assert r.json() == {"id": "1707.08567", "upvotes": 0, "voted": False}
        r = client.post(
            "/vote",
            data={"csrf_token": token, "paper_id": "1707.08567", "action": "up"},
            headers={"Accept": "application/json"},
        )
        assert r.json()["upvotes"] == 1 and r.json()["voted"] is True
        page = client.get("/papers/1707.08567").text
        assert 'aria-pressed="true"' in page

        r = client.post(
            "/comments",
            data={
                "csrf_token": token,
                "paper_id": "1707.08567",
                "body": "Nice! Code at https://github.com/example/x.",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        page = client.get("/papers/1707.08567").text
        assert (
            '<a href="https://github.com/example/x" rel="nofollow ugc noopener">'
            "https://github.com/example/x</a>." in page
        )
        comments = client.get("/api/papers/1707.08567/comments").json()
        assert comments[0]["author"]["fullname"] == "Ada Lovelace"

        assert rank(db, site.settings) >= 1
        trending = client.get("/papers/trending").text
        assert "1 vote in the last 24 h" in trending
        data = client.get("/api/trending").json()
        assert data[0]["paper"]["id"] == "1707.08567"
        assert data[0]["trending"]["votesLast24h"] == 1
        daily = client.get(
            "/api/daily_papers", params={"submitter": "ada-lovelace", "sort": "trending"}
        ).json()
        assert [d["paper"]["id"] for d in daily] == ["1707.08567"]
        assert daily[0]["submittedBy"]["name"] == "ada-lovelace"
        assert client.get("/api/daily_papers", params={"submitter": "nobody"}).json() == []


# --- accounts ----------------------------------------------------------------------------------


def test_login_answers_identically_for_known_and_unknown(site: Site) -> None:
    _member(site)
    outsider = site.client()

    def attempt(email: str) -> tuple[int, str]:
        r = outsider.post(
            "/login",
            data={"csrf_token": csrf(outsider), "email": email, "password": "wrong password!"},
        )
        text = re.sub(r'value="[0-9a-f]{64}"', "", r.text).replace(email, "EMAIL")
        return r.status_code, text

    assert attempt("ada@example.org") == attempt("nobody@example.org")

    def link(email: str) -> tuple[int, str]:
        r = outsider.post("/login/link", data={"csrf_token": csrf(outsider), "email": email})
        return r.status_code, re.sub(r'value="[0-9a-f]{64}"', "", r.text).replace(email, "EMAIL")

    before = len(site.smtp.handler.messages)
    assert link("ada@example.org") == link("nobody@example.org")
    assert len(site.smtp.handler.messages) == before + 1  # only the real account gets mail
    assert not site.smtp.handler.to("nobody@example.org")


def test_signup_with_a_known_address_looks_the_same_and_mails_the_owner(site: Site) -> None:
    _member(site)
    other = site.client()
    r = other.post(
        "/signup",
        data={
            "csrf_token": csrf(other, "/signup"),
            "email": "ADA@example.org",
            "display_name": "Impostor",
        },
    )
    assert r.status_code == 200 and "Check your email" in r.text
    assert _count(site.db, "users") == 1
    assert "/login/magic?token=" in mailed_link(site.smtp, "ada@example.org")


def test_magic_link_is_single_use_and_get_does_not_consume(site: Site) -> None:
    _member(site)
    client = site.client()
    client.post("/login/link", data={"csrf_token": csrf(client), "email": "ada@example.org"})
    link = mailed_link(site.smtp, "ada@example.org")
    path = link.removeprefix("http://testserver")
    assert client.get(path).status_code == 200  # a mail scanner's GET ...
    assert client.get(path).status_code == 200  # ... leaves the link usable
    r = confirm(client, link)
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert "Sign out" in client.get("/").text
    token = re.search(r"token=([\w-]+)", link)
    assert token
    replay = client.post(
        "/login/magic", data={"csrf_token": csrf(client, "/"), "token": token.group(1)}
    )
    assert replay.status_code == 400 and "already used or has expired" in replay.text
    assert client.get(path).status_code == 400


def test_forged_or_missing_csrf_is_rejected_and_nothing_changes(site: Site) -> None:
    client = _member(site)
    real = csrf(client, "/")
    r = client.post("/vote", data={"csrf_token": "f" * 64, "paper_id": "2611.00001"})
    assert r.status_code == 403 and "reload" in r.text
    r = client.post("/vote", data={"paper_id": "2611.00001"})
    assert r.status_code == 403
    # A token from another browser does not work here either.
    other = site.client()
    r = client.post("/vote", data={"csrf_token": csrf(other), "paper_id": "2611.00001"})
    assert r.status_code == 403
    assert _count(site.db, "votes") == 0
    # A fresh client without the CSRF cookie at all.
    bare = site.client()
    r = bare.post(
        "/login", data={"csrf_token": real, "email": "ada@example.org", "password": PASSWORD}
    )
    assert r.status_code == 403
    r = client.post(
        "/vote", data={"csrf_token": real, "paper_id": "2611.00001"}, follow_redirects=False
    )
    assert r.status_code == 303 and _count(site.db, "votes") == 1


def test_sign_out_ends_the_session_on_the_server(site: Site) -> None:
    client = _member(site)
    cookie = client.cookies.get("pf_session")
    assert cookie and _count(site.db, "sessions") == 1
    r = client.post("/logout", data={"csrf_token": csrf(client, "/")}, follow_redirects=False)
    assert r.status_code == 303
    assert _count(site.db, "sessions") == 0
    thief = site.client()
    thief.cookies.set("pf_session", cookie)
    assert "Sign out" not in thief.get("/").text


def test_session_cookie_flags(site: Site, sqlite_db: Database, tmp_path: Path) -> None:
    client = site.client()
    client.post("/login/link", data={"csrf_token": csrf(client), "email": "x@example.org"})
    _member(site)
    c2 = site.client()
    r = c2.post(
        "/login",
        data={"csrf_token": csrf(c2), "email": "ada@example.org", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"].lower()
    assert "pf_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # http base URL
    with community_site(sqlite_db, tmp_path, base_url="https://papers.example.org") as s2:
        c3 = s2.client()
        r = c3.get("/login")
        assert "secure" in r.headers["set-cookie"].lower()


def test_login_and_mail_are_rate_limited(site: Site) -> None:
    client = site.client()
    token = csrf(client)
    codes = [
        client.post(
            "/login", data={"csrf_token": token, "email": "v@example.org", "password": "nope" * 4}
        ).status_code
        for _ in range(site.settings.login_rate_limit + 1)
    ]
    assert codes[:-1] == [400] * site.settings.login_rate_limit and codes[-1] == 429
    _member(site, "m@example.org", "M")
    before = len(site.smtp.handler.to("m@example.org"))
    codes = [
        client.post("/login/link", data={"csrf_token": token, "email": "m@example.org"}).status_code
        for _ in range(site.settings.mail_rate_limit + 2)
    ]
    assert codes.count(429) >= 1
    sent = len(site.smtp.handler.to("m@example.org")) - before
    assert sent <= site.settings.mail_rate_limit


def test_settings_profile_escaping_and_account_deletion(site: Site) -> None:
    client = _member(site)
    token = csrf(client, "/settings")
    hostile = "<img src=x onerror=alert(1)> Robert'); DROP TABLE users;--"
    r = client.post(
        "/settings",
        data={
            "csrf_token": token,
            "action": "profile",
            "display_name": hostile,
            "github_url": "https://github.com/ada",
            "orcid_url": "javascript:alert(1)",
        },
    )
    assert r.status_code == 400 and "ORCID URL" in r.text
    r = client.post(
        "/settings",
        data={
            "csrf_token": token,
            "action": "profile",
            "display_name": hostile,
            "github_url": "https://github.com/ada",
            "orcid_url": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    client.post("/comments", data={"csrf_token": token, "paper_id": "2611.00001", "body": "hi"})
    page = client.get("/papers/2611.00001").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    with site.db.read() as conn:
        u = user_store.get_by_email(conn, "ada@example.org")
    assert u is not None and u.display_name == hostile  # stored literally, tables intact
    # Delete the account with its votes and comments.
    client.post("/vote", data={"csrf_token": token, "paper_id": "2611.00001"})
    r = client.post("/settings", data={"csrf_token": token, "action": "delete", "confirm": "no"})
    assert r.status_code == 400 and _count(site.db, "users") == 1
    r = client.post(
        "/settings",
        data={"csrf_token": token, "action": "delete", "confirm": "delete"},
        follow_redirects=False,
    )
    assert r.status_code == 400 and "current password is wrong" in r.text  # a cookie is not enough
    r = client.post(
        "/settings",
        data={
            "csrf_token": token,
            "action": "delete",
            "confirm": "delete",
            "current_password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (_count(site.db, "users"), _count(site.db, "votes"), _count(site.db, "comments")) == (
        0,
        0,
        0,
    )
    with site.db.read() as conn:
        p = paper_store.get_paper(conn, "2611.00001")
    assert p is not None and p.upvotes == 0 and p.num_comments == 0


def test_password_change_needs_the_current_one_and_12_chars(site: Site) -> None:
    client = _member(site)
    token = csrf(client, "/settings")
    r = client.post(
        "/settings",
        data={
            "csrf_token": token,
            "action": "password",
            "current_password": PASSWORD,
            "new_password": "short",
        },
    )
    assert r.status_code == 400 and "12 characters" in r.text
    r = client.post(
        "/settings",
        data={
            "csrf_token": token,
            "action": "password",
            "current_password": "wrong" * 3,
            "new_password": "another long password",
        },
    )
    assert r.status_code == 400 and "current password is wrong" in r.text
    r = client.post(
        "/settings",
        data={
            "csrf_token": token,
            "action": "password",
            "current_password": PASSWORD,
            "new_password": "another long password",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303


# --- submissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "2611.00001",
        "2611.00001v3",
        "arXiv:2611.00001",
        "https://arxiv.org/abs/2611.00001v2",
        "https://arxiv.org/pdf/2611.00001v2.pdf",
        "http://export.arxiv.org/abs/2611.00001",
    ],
)
def test_submission_accepts_ids_and_urls_without_fetching(site: Site, raw: str) -> None:
    client = _member(site)
    r = client.post(
        "/submit",
        data={"csrf_token": csrf(client, "/submit"), "paper": raw},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/papers/2611.00001")
    assert site.arxiv.requests == []  # already in the store: no upstream request


def test_submission_rules_have_clear_messages(site: Site) -> None:
    client = _member(site)
    token = csrf(client, "/submit")

    def submit(raw: str) -> tuple[int, str]:
        r = client.post("/submit", data={"csrf_token": token, "paper": raw})
        return r.status_code, r.text

    code, text = submit("https://evil.example.org/abs/2611.00001")
    assert code == 400 and "not a paper id" in text
    code, text = submit("1' OR '1'='1")
    assert code == 400 and "not a paper id" in text
    assert site.arxiv.requests == []  # a user-supplied URL is never fetched
    code, text = submit("2611.00001")
    assert code == 200 and "Thanks! The paper is on today" in text
    code, text = submit("2611.00001")
    assert code == 409 and "already submitted by ada" in text
    code, text = submit("1707.08567")  # real recorded paper from 2017: too old by default
    assert code == 400 and "more than 14 days ago" in text
    code, text = submit("0808.05394")  # arXiv answers with no entry
    assert code == 404 and "arXiv has no paper 0808.05394" in text
    with site.db.write() as conn:
        feed_store.add_entries(conn, [FeedEntry("2611.00002", _now().date(), "hf", None, "hf")])
    code, text = submit("2611.00002")
    assert code == 409 and "already featured" in text
    assert _count(site.db, "submissions") == 1


def test_unverified_members_cannot_submit(site: Site) -> None:
    client = site.client()
    client.post(
        "/signup",
        data={"csrf_token": csrf(client, "/signup"), "email": "u@example.org", "display_name": "U"},
    )
    r = client.post(
        "/login", data={"csrf_token": csrf(client), "email": "u@example.org", "password": PASSWORD}
    )
    assert r.status_code == 400 and _count(site.db, "sessions") == 0
    r = client.post("/submit", data={"csrf_token": csrf(client, "/submit"), "paper": "2611.00001"})
    assert r.status_code == 403 and "sign in first" in r.text


def test_a_thousand_submissions_in_a_minute_are_rate_limited(site: Site) -> None:
    with site.db.write() as conn:
        paper_store.upsert_papers(conn, [_recent_paper(f"2611.1{i:04d}") for i in range(1000)])
    client = _member(site)
    token = csrf(client, "/submit")
    codes = []
    for i in range(1000):
        r = client.post(
            "/submit",
            data={"csrf_token": token, "paper": f"2611.1{i:04d}"},
            follow_redirects=False,
        )
        codes.append(r.status_code)
    cap = site.settings.submission_daily_cap
    assert codes[:cap] == [303] * cap
    assert set(codes[cap:]) == {429}
    assert _count(site.db, "submissions") == cap
    last = client.post("/submit", data={"csrf_token": token, "paper": "2611.19999"})
    assert last.status_code == 429 and "too many posts" in last.text
    assert "Retry-After" in last.headers


# --- votes -------------------------------------------------------------------------------------


def test_votes_on_hidden_papers_are_rejected(site: Site) -> None:
    client = _member(site)
    with site.db.write() as conn:
        paper_store.set_hidden(conn, "2611.00002", True)
    r = client.post(
        "/vote",
        data={"csrf_token": csrf(client, "/"), "paper_id": "2611.00002"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 404 and "hidden" in r.text
    assert _count(site.db, "votes") == 0


def test_anonymous_vote_goes_to_sign_in(site: Site) -> None:
    client = site.client()
    r = client.post(
        "/vote",
        data={"csrf_token": csrf(client, "/"), "paper_id": "2611.00001", "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = client.post(
        "/vote",
        data={"csrf_token": csrf(client, "/"), "paper_id": "2611.00001"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 401


# --- comments ----------------------------------------------------------------------------------


def test_huge_comments_are_rejected_with_a_clear_message(site: Site) -> None:
    client = _member(site)
    token = csrf(client, "/")
    r = client.post(
        "/comments", data={"csrf_token": token, "paper_id": "2611.00001", "body": "x" * 1_000_000}
    )
    assert r.status_code == 413 and "10,000 characters" in r.text
    r = client.post(
        "/comments", data={"csrf_token": token, "paper_id": "2611.00001", "body": "y" * 10_001}
    )
    assert r.status_code == 400 and "the limit is 10,000" in r.text
    assert _count(site.db, "comments") == 0


def test_comments_escape_html_and_link_urls(site: Site) -> None:
    client = _member(site)
    token = csrf(client, "/")
    body = '<script>alert("x")</script> see https://example.org/a?b=1&c=<2> and javascript:alert(1)'
    client.post("/comments", data={"csrf_token": token, "paper_id": "2611.00001", "body": body})
    page = client.get("/papers/2611.00001").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page or (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    )
    assert '<a href="https://example.org/a?b=1&amp;c=" rel="nofollow ugc noopener">' in page
    assert 'href="javascript:' not in page


def test_comment_edit_and_delete_by_author_and_curator_only(site: Site) -> None:
    author = _member(site)
    token = csrf(author, "/")
    author.post("/comments", data={"csrf_token": token, "paper_id": "2611.00001", "body": "v1"})
    with site.db.read() as conn:
        cid = int(conn.execute(sa.text("SELECT id FROM comments")).scalar_one())
    r = author.post(f"/comments/{cid}/edit", data={"csrf_token": token, "body": "v2"})
    assert r.status_code == 200 and "v2" in r.text and "edited" in r.text
    other = _make_user(site, "bob@example.org")
    r = other.post(f"/comments/{cid}/edit", data={"csrf_token": csrf(other, "/"), "body": "hax"})
    assert r.status_code == 403
    r = other.post(f"/comments/{cid}/delete", data={"csrf_token": csrf(other, "/")})
    assert r.status_code == 403
    curator = _make_user(site, "cur@example.org", "curator")
    r = curator.post(f"/comments/{cid}/delete", data={"csrf_token": csrf(curator, "/")})
    assert r.status_code == 200 and "[deleted]" in r.text and "v2" not in r.text


# --- curation ----------------------------------------------------------------------------------


def test_curators_feature_unfeature_and_hide(site: Site) -> None:
    member = _member(site)
    r = member.post(
        "/curate",
        data={"csrf_token": csrf(member, "/"), "paper_id": "2611.00001", "action": "hide"},
    )
    assert r.status_code == 403
    curator = _make_user(site, "cur@example.org", "curator")
    token = csrf(curator, "/")
    curator.post(
        "/curate", data={"csrf_token": token, "paper_id": "2611.00001", "action": "feature"}
    )
    assert "Fresh results" in curator.get("/").text
    curator.post(
        "/curate", data={"csrf_token": token, "paper_id": "2611.00001", "action": "unfeature"}
    )
    with site.db.read() as conn:
        assert feed_store.days_for(conn, "2611.00001") == []
    curator.post("/curate", data={"csrf_token": token, "paper_id": "2611.00001", "action": "hide"})
    assert curator.get("/papers/2611.00001").status_code == 404


# --- feeds and exports -------------------------------------------------------------------------


def test_atom_feeds_and_bibtex(site: Site) -> None:
    from lxml import etree

    curator = _make_user(site, "cur@example.org", "curator")
    token = csrf(curator, "/")
    curator.post(
        "/curate", data={"csrf_token": token, "paper_id": "2611.00001", "action": "feature"}
    )
    curator.post("/vote", data={"csrf_token": token, "paper_id": "2611.00001"})
    rank(site.db, site.settings)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for path in ("/papers/feed.atom", "/papers/trending.atom"):
        r = curator.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
        doc = etree.fromstring(r.content)
        titles = doc.xpath("//a:entry/a:title/text()", namespaces=ns)
        assert titles == ["Fresh results"], path
    bib = curator.get("/papers/2611.00001.bib")
    assert bib.status_code == 200
    assert bib.text.startswith("@misc{arxiv2611.00001,") and "eprint = {2611.00001}" in bib.text
    assert "author = {Grace Hopper and Alan Turing}" in bib.text
    assert curator.get("/papers/feed.bib").text.count("@misc{") == 1
    assert "arxiv2611.00001" in curator.get("/papers/trending.bib").text
    assert curator.get("/papers/9999.99999.bib").status_code == 404


def test_openapi_lists_only_the_json_api(site: Site) -> None:
    spec = site.client().get("/api/openapi.json").json()
    assert set(spec["paths"]) >= {"/api/daily_papers", "/api/trending"}
    assert all(p.startswith("/api/") for p in spec["paths"])


def test_email_change_needs_the_new_address_confirmed(site: Site) -> None:
    client = _member(site)
    _make_user(site, "taken@example.org")
    token = csrf(client, "/settings")
    before = len(site.smtp.handler.messages)
    r = client.post(
        "/settings",
        data={
            "csrf_token": token,
            "action": "email",
            "email": "taken@example.org",
            "current_password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and len(site.smtp.handler.messages) == before  # no mail, same page
    r = client.post(
        "/settings",
        data={
            "csrf_token": token,
            "action": "email",
            "email": "Ada.New@example.org",
            "current_password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with site.db.read() as conn:
        assert user_store.get_by_email(conn, "ada@example.org") is not None  # not changed yet
    assert confirm(client, mailed_link(site.smtp, "Ada.New@example.org")).status_code == 303  # type: ignore[attr-defined]
    with site.db.read() as conn:
        assert user_store.get_by_email(conn, "ada@example.org") is None
        moved = user_store.get_by_email(conn, "ada.new@example.org")
    assert moved is not None and moved.email == "Ada.New@example.org"


def test_trending_page_is_empty_before_rank_and_pages_after(site: Site) -> None:
    client = site.client()
    r = client.get("/papers/trending")
    assert r.status_code == 200 and "Nothing is trending yet" in r.text
    assert client.get("/api/trending").json() == []
    assert client.get("/papers/trending", params={"p": "2"}).status_code == 404
    assert client.get("/api/trending", params={"limit": "0"}).status_code == 400


def test_cross_site_origin_and_open_redirects_are_refused(site: Site) -> None:
    client = _member(site)
    token = csrf(client, "/")
    r = client.post(
        "/vote",
        data={"csrf_token": token, "paper_id": "2611.00001"},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403 and "another site" in r.text
    assert _count(site.db, "votes") == 0
    r = client.post(
        "/vote",
        data={"csrf_token": token, "paper_id": "2611.00001", "next": "/papers/2611.00001"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/papers/2611.00001"
    for evil in ("//evil.example/x", "https://evil.example", "/\t/evil.example", "/\\evil"):
        r = client.post(
            "/vote",
            data={"csrf_token": token, "paper_id": "2611.00001", "action": "remove", "next": evil},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/", evil

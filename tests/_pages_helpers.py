"""Every page type of the site, seeded and reachable, for the validators (vnu, axe-core)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from _web_helpers import seed
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.ranking.trending import rank
from paperfeed.search.sync import run_index
from paperfeed.store import Database, open_database
from paperfeed.store import comments as comment_store
from paperfeed.store import library as library_store
from paperfeed.store import papers as paper_store
from paperfeed.store import subscriptions as sub_store
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store
from paperfeed.web import auth, create_app

PASSWORD = "correct horse battery staple"
MEMBER = "ada@example.org"
ADMIN = "root@example.org"
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
MISSING_NPM = "run `npm ci` in the project folder (scripts/test does it) to install {}"


@dataclass(frozen=True, slots=True)
class SitePage:
    """One page to check: who looks at it, its path and the status it answers with."""

    who: str  # "visitor", "member" or "admin"
    path: str
    status: int = 200
    shared: bool = False  # a page everyone sees (signed in, only its controls differ)

    @property
    def slug(self) -> str:
        """A file name for the page's HTML."""
        return f"{self.who}-" + (re.sub(r"[^A-Za-z0-9]+", "_", self.path).strip("_") or "home")


@dataclass(slots=True)
class PagesSite:
    """The seeded site: settings, database and the ids the page list needs."""

    settings: Settings
    db: Database
    collection_id: int
    comment_id: int
    subscription_token: str

    def pages(self) -> list[SitePage]:
        """Every page type, signed out and (where the page differs) signed in."""
        shared = [
            "/",
            "/papers/date/2024-05-29",
            "/papers/week/2024-W22",
            "/papers/month/2024-05",
            "/papers/2405.00003",
            "/papers/2405.00002",
            "/search",
            "/search?q=attention",
            "/search?q=zzzyqx",
            "/papers/trending",
            f"/subscription/{self.subscription_token}",
            f"/unsubscribe/{self.subscription_token}",
            "/subscribe/confirm/not-a-token",
        ]
        visitor = [
            *shared,
            "/login",
            "/signup",
            SitePage("visitor", "/verify?token=not-a-token", 400),
            SitePage("visitor", "/login/magic?token=not-a-token", 400),
            SitePage("visitor", "/papers/not-a-paper", 404),
            SitePage("visitor", "/papers/date/2024-05-29?p=x", 400),
            SitePage("visitor", "/papers/date/2024-05-28", 404),
            SitePage("visitor", "/search?q=x&mode=bogus", 400),
            SitePage("visitor", "/papers/date?day=2024-13-45", 400),
        ]
        member = [
            *shared,
            "/settings",
            "/settings/digests",
            "/settings/chat",
            "/submit",
            "/library",
            f"/library/{self.collection_id}",
            f"/library/{self.collection_id}/similar",
            "/for-you",
            f"/comments/{self.comment_id}/edit",
            "/notifications",  # follows
            "/settings/follows",  # follows
            "/search?q=cat:cs.CL",  # follows: the search and category buttons
        ]
        admin = ["/admin/status", "/papers/2405.00003"]
        out: list[SitePage] = []
        for who, paths in (("visitor", visitor), ("member", member), ("admin", admin)):
            out += [
                p if isinstance(p, SitePage) else SitePage(who, p, shared=p in shared)
                for p in paths
            ]
        return out


def _user(db: Database, email: str, name: str, role: str = "member") -> int:
    with db.write() as conn:
        user = user_store.create_user(
            conn,
            email,
            name,
            password_hash=auth.hash_password(PASSWORD),
            role=role,
            verified=True,
        )
    return user.id


@contextmanager
def pages_site(tmp: Path) -> Iterator[PagesSite]:
    """A site with papers, keywords, comments, votes, a collection and a subscription."""
    db = open_database(f"sqlite:///{tmp / 'pages.db'}")
    settings = Settings(
        database_url=db.url,
        data_dir=str(tmp / "data"),
        mail_backend="console",
        base_url="http://testserver",
    )
    seed(db)
    member = _user(db, MEMBER, "Ada Lovelace")
    _user(db, ADMIN, "Root", role="admin")
    with db.write() as conn:
        p = paper_store.get_paper(conn, "2405.00002")
        assert p is not None
        p.ai_keywords = ["scaling laws", "compute-optimal training"]
        p.num_comments = 0
        paper_store.upsert_papers(conn, [p])
        comment = comment_store.add_comment(conn, "2405.00003", member, "Nice, see https://x.org")
        vote_store.add_vote(conn, member, "2405.00005")
        col = library_store.get_or_create_collection(conn, member, "Reading")
        library_store.save(conn, member, "2405.00001", [col.id])
        library_store.hide(conn, member, "2406.00006")
        sub, _ = sub_store.request(
            conn,
            "reader@example.org",
            confirm_token_hash="0" * 64,
            unsubscribe_token="unsub-token-for-tests",
            frequency="daily",
            sections=["trending"],
            timezone="UTC",
            hour=7,
        )
    run_index(db, settings, embed=False)
    rank(db, settings, now=datetime(2024, 7, 2))
    try:
        yield PagesSite(settings, db, col.id, comment.id, sub.unsubscribe_token)
    finally:
        db.dispose()


def signed_in_client(site: PagesSite, email: str | None) -> TestClient:
    """A client signed in with the test password (a visitor when email is None)."""
    client = TestClient(create_app(site.settings, site.db))
    if email is None:
        return client
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    r = client.post(
        "/login",
        data={"csrf_token": token.group(1), "email": email, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


WHO = {"visitor": None, "member": MEMBER, "admin": ADMIN}


def browser_sign_in(page: Any, base: str, email: str) -> None:
    """Sign a Playwright page's context in through the login form with the test password."""
    page.goto(base + "/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)

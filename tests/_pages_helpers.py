"""Every page type of the site, seeded and reachable, for the validators (vnu, axe-core)."""

from __future__ import annotations

import gzip
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
from paperfeed.models import FullText, Organization, Reference
from paperfeed.ranking.trending import rank
from paperfeed.search.sync import run_index
from paperfeed.sources.arxiv_html import parse as parse_html
from paperfeed.store import Database, open_database
from paperfeed.store import claims as claim_store
from paperfeed.store import comments as comment_store
from paperfeed.store import fulltexts as fulltext_store
from paperfeed.store import hub_links as hub_store
from paperfeed.store import library as library_store
from paperfeed.store import papers as paper_store
from paperfeed.store import subscriptions as sub_store
from paperfeed.store import summaries as summary_store
from paperfeed.store import tokens as token_store
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store
from paperfeed.web import auth, create_app

PASSWORD = "correct horse battery staple"
_HUB_MODEL = {"id": "org/model-a", "author": "org", "likes": 5, "downloads": 9, "private": False}
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
            # --- authors: author and organization pages ---
            "/authors/ada-lovelace",
            "/authors/ada-lovelace?person=2405.00001",
            "/orgs/example-lab",
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
            SitePage("visitor", "/authors/nobody-here", 404),
            SitePage("visitor", "/orgs/no-such-lab", 404),
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
            "/claims",
            "/claims/new?paper=2405.00003&position=0",
            "/notifications",  # follows
            "/settings/follows",  # follows
            "/search?q=cat:cs.CL",  # follows: the search and category buttons
        ]
        admin = ["/admin/status", "/papers/2405.00003", "/claims"]

        admin = ["/admin/status", "/papers/2405.00003"]
        # --- full text: a licence that hides the text, a search matching only a body ---
        visitor += ["/papers/2405.00005", "/search?q=manipulator&mode=lexical"]
        # --- bio: a medRxiv paper with its journal DOI (the identities partial), categories ---
        visitor += [
            f"/papers/{DOI_PAPER}",
            "/categories",
            "/?source=medrxiv",
            f"/search?q=source:medrxiv+{DOI_WORD}&mode=lexical",
            SitePage("visitor", "/?source=gopher", 400),
        ]
        out: list[SitePage] = []
        for who, paths in (("visitor", visitor), ("member", member), ("admin", admin)):
            out += [
                p if isinstance(p, SitePage) else SitePage(who, p, shared=p in shared)
                for p in paths
            ]
        return out


def _add_full_texts(db: Database) -> None:
    """Full texts: arXiv's 2025 page on a CC BY paper, heavy math on another, one not shown."""
    html = Path(__file__).resolve().parent / "fixtures" / "arxiv_html"

    def parsed(name: str) -> FullText:
        ft = parse_html(gzip.decompress((html / name).read_bytes()))
        assert ft is not None
        return ft

    cites = FullText("Citing", [], [Reference(1, "A paper here, arXiv:2405.00003.", "2405.00003")])
    with db.write() as conn:
        p = paper_store.get_paper(conn, "2405.00005")
        assert p is not None
        p.license = "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
        paper_store.upsert_papers(conn, [p])
        fulltext_store.save(conn, "2405.00003", "u", parsed("arxiv.org_html_2501.11120v1.html.gz"))
        fulltext_store.save(conn, "2405.00002", "u", parsed("arxmliv_latexml_0903.1000.html.gz"))
        fulltext_store.save(conn, "2405.00005", "u", parsed("arxmliv_latexml_1307.8133.html.gz"))
        fulltext_store.save(conn, "2405.00001", "u", cites)


# --- bio: one medRxiv paper from its recorded DOI look-up (three versions, a journal DOI) ---
DOI_PAPER = "10.1101/2021.12.11.21267504"
DOI_WORD = "adverse"
_DOI_ANSWER = (
    Path(__file__).resolve().parent
    / "fixtures"
    / "biorxiv_api"
    / "details_medrxiv_doi_10.1101_2021.12.11.21267504.json"
)


def _add_preprint(db: Database) -> None:
    from paperfeed.pipeline import store_records
    from paperfeed.sources.biorxiv import parse_details

    page, _, _ = parse_details(_DOI_ANSWER.read_bytes(), "medrxiv", "fixture")
    with db.write() as conn:
        store_records(conn, page.records)


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
        # --- paper extras: Hub repos citing a paper, a summary by the operator's model ---
        when = datetime(2024, 6, 1)
        hub_store.save_links(conn, "2405.00002", "model", [_HUB_MODEL], 3, False, when)
        hub_store.save_links(conn, "2405.00002", "dataset", [], 0, True, when)
        summary_store.save_summary(
            conn, summary_store.Summary("2405.00003", 2, "tiny-llm:1b", "0" * 64, "Short.", when)
        )
    with db.write() as conn:  # authors: an organization, a confirmed and a pending claim
        lab = paper_store.get_paper(conn, "2405.00001")
        assert lab is not None
        lab.organization = Organization("lab-id", "example-lab", "Example Lab")
        paper_store.upsert_papers(conn, [lab])
        at = datetime(2024, 6, 1)
        confirmed = claim_store.add_claim(
            conn,
            paper_id="2405.00003",
            position=2,
            user_id=member,
            name="Ada Lovelace",
            slug="ada-lovelace",
            orcid=None,
            at=at,
        )
        claim_store.decide(conn, confirmed, "confirmed", at=at, evidence="confirmed by curator")
        claim_store.add_claim(
            conn,
            paper_id="2405.00002",
            position=2,
            user_id=member,
            name="Ada Lovelace",
            slug="ada-lovelace",
            orcid="0000-0002-1825-0097",
            at=at,
        )

    # --- tokens: the settings page lists a live token with its revoke form ---
    with db.write() as conn:
        token_store.insert(
            conn,
            member,
            name="laptop",
            scope="write",
            token_hash="1" * 64,
            prefix="pf_abcdefgh",
            now=datetime(2024, 6, 1),
            expires_at=datetime(2099, 1, 1),
        )

    _add_full_texts(db)
    _add_preprint(db)  # bio
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

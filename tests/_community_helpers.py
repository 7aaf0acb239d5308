"""Helpers for community web tests: a site with real SMTP (aiosmtpd) and a loopback arXiv API."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _digest_helpers import SmtpServer, wait_for_queue
from _harvest_helpers import ATOM_DIR, Reply, Request, Upstream
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection

from paperfeed.config import Settings
from paperfeed.store import Database
from paperfeed.store import subscriptions as store_subs
from paperfeed.store.subscriptions import Subscription
from paperfeed.web import create_app

PASSWORD = "correct horse battery staple"
_ATOM = {
    "1707.08567": ATOM_DIR / "api2026_id_list=1707.08567.xml",
    "1605.08386": ATOM_DIR / "api2026_id_list=1605.08386.xml",
}
_EMPTY = ATOM_DIR / "api2026_id_list=0808.05394_not_found.xml"


@dataclass
class Site:
    """An app on a database, with the SMTP server and the arXiv upstream it talks to."""

    settings: Settings
    db: Database
    smtp: SmtpServer
    arxiv: Upstream

    def client(self) -> TestClient:
        """A fresh browser-like client (own cookie jar) that waits for queued mail after each request."""
        return _MailWaitingClient(create_app(self.settings, self.db), self.db)


class _MailWaitingClient(TestClient):
    """Account mail leaves in the background: wait for it so tests can read it right away."""

    def __init__(self, app: Any, db: Database) -> None:
        super().__init__(app)
        self._db = db

    def request(self, *args: Any, **kwargs: Any) -> Any:
        response = super().request(*args, **kwargs)
        wait_for_queue(self._db)
        return response


def arxiv_app(req: Request) -> Reply:
    """Answer id_list lookups from recorded arXiv API responses."""
    path = _ATOM.get(req.params.get("id_list", ""), _EMPTY)
    return Reply(Path(path).read_bytes(), content_type="application/atom+xml")


@contextmanager
def community_site(db: Database, tmp: Path, **overrides: object) -> Iterator[Site]:
    """A site whose mail goes to aiosmtpd on loopback and whose arXiv API is a loopback server."""
    arxiv = Upstream()
    arxiv.app = arxiv_app
    with SmtpServer() as smtp:
        settings = Settings(
            database_url=db.url,
            data_dir=str(tmp / "data"),
            mail_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            arxiv_api_url=arxiv.url + "/api/query",
            http_min_interval=0.0,
            http_retries=0,
            base_url="http://testserver",
        ).with_(**overrides)
        try:
            yield Site(settings, db, smtp, arxiv)
        finally:
            arxiv.close()


def csrf(client: TestClient, path: str = "/login") -> str:
    """The CSRF token a page hands this client."""
    r = client.get(path)
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def mailed_link(smtp: SmtpServer, address: str, index: int = -1) -> str:
    """The site link in the latest (or index-th) email to an address."""
    msgs = smtp.wait_to(address)
    assert msgs, f"no email to {address}"
    body = msgs[index].message.get_body(("plain",))
    assert body is not None
    m = re.search(r"https?://\S+", body.get_content())
    assert m
    return m.group(0)


def confirm(client: TestClient, link: str, **fields: str) -> object:
    """Open an emailed link (GET shows a button), fill in `fields` and press the button (POST)."""
    path = link.removeprefix("http://testserver")
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token
    action = re.search(r'<form method="post" action="(/verify|/login/magic)"', page.text)
    assert action
    return client.post(
        action.group(1),
        data={"csrf_token": csrf(client, path), "token": token.group(1), **fields},
        follow_redirects=False,
    )


def sign_up(site: Site, client: TestClient, email: str, name: str) -> None:
    """Sign up, open the verification mail, choose PASSWORD and confirm: the client is signed in."""
    n = len(site.smtp.handler.to(email))
    r = client.post(
        "/signup",
        data={
            "csrf_token": csrf(client, "/signup"),
            "email": email,
            "display_name": name,
        },
    )
    assert r.status_code == 200 and "Check your email" in r.text
    site.smtp.wait_for(len(site.smtp.handler.messages))
    assert len(site.smtp.handler.to(email)) == n + 1
    r2 = confirm(client, mailed_link(site.smtp, email), password=PASSWORD)
    assert r2.status_code == 303  # type: ignore[attr-defined]


def member_digest(conn: Connection, user_id: int, email: str) -> Subscription:
    """An active daily digest subscription of a member at an address."""
    return store_subs.subscribe_member(
        conn,
        user_id,
        email,
        unsubscribe_token=secrets.token_urlsafe(16),
        frequency="daily",
        sections=["featured"],
        timezone="UTC",
        hour=7,
    )


def outbox_row(sub_id: int, to: str, token: str) -> dict[str, object]:
    """A pending, composed digest for store_outbox.insert_many."""
    return {
        "subscription_id": sub_id,
        "period": f"d:{token}",
        "token": token,
        "message_id": f"<{token}@x>",
        "to_addr": to,
        "subject": "Your digest",
        "content": {"sections": []},
        "items": 0,
        "status": "pending",
    }

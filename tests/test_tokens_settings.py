"""The settings page's API tokens: created (the secret shown once), listed and revoked by a member."""

from __future__ import annotations

import html
import re
from pathlib import Path

from _community_helpers import community_site, csrf
from fastapi.testclient import TestClient

from paperfeed.models import User
from paperfeed.store import Database
from paperfeed.store import sessions as session_store
from paperfeed.store import users as user_store
from paperfeed.web import create_app

_SECRET = re.compile(r'id="new-token-secret" readonly value="(pf_[A-Za-z0-9_-]{43})"')


def _signed_in(db: Database, client: TestClient, email: str) -> User:
    with db.write() as conn:
        user = user_store.create_user(conn, email, email.split("@")[0].title(), verified=True)
        client.cookies.set("pf_session", session_store.create_session(conn, user.id, days=1))
    return user


def test_a_member_creates_uses_and_revokes_a_token_on_the_settings_page(
    db: Database, tmp_path: Path
) -> None:
    with community_site(db, tmp_path) as site, TestClient(create_app(site.settings, db)) as client:
        ada = _signed_in(db, client, "ada@example.org")
        assert "You have no live tokens." in client.get("/settings").text
        token = csrf(client, "/settings")
        form = {"csrf_token": token, "action": "token-create", "name": "laptop <b>"}
        created = client.post("/settings", data={**form, "scope": "write", "expires_days": "30"})
        assert created.status_code == 200, created.text
        assert created.headers["cache-control"] == "no-store"
        m = _SECRET.search(created.text)
        assert m, created.text
        secret = m.group(1)
        assert "laptop &lt;b&gt;" in created.text and "laptop <b>" not in created.text
        me = client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.status_code == 200 and me.json()["user"] == ada.username
        assert me.json()["token"]["scope"] == "write"

        page = client.get("/settings").text  # the list shows it, the secret never again
        assert secret not in page and "new-token-secret" not in page
        row = page[page.index("laptop &lt;b&gt;") :]
        assert html.escape(secret[:11]) + "…" in row and "write" in row
        token_id = re.search(r'name="token_id" value="(\d+)"', page)
        assert token_id

        no_csrf = client.post("/settings", data={"action": "token-revoke", "token_id": "1"})
        assert no_csrf.status_code == 403
        assert (
            client.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        )

        revoke = {"csrf_token": token, "action": "token-revoke", "token_id": token_id.group(1)}
        r = client.post("/settings", data=revoke, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/settings?notice=token-revoked"
        gone = client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
        assert gone.status_code == 401 and "revoked" in gone.json()["error"]
        assert "You have no live tokens." in client.get("/settings").text
        again = client.post("/settings", data=revoke)
        assert again.status_code == 404 and "no live token" in again.text


def test_bad_token_input_is_refused_with_the_reason_and_creates_nothing(
    db: Database, tmp_path: Path
) -> None:
    with community_site(db, tmp_path) as site, TestClient(create_app(site.settings, db)) as client:
        _signed_in(db, client, "ada@example.org")
        token = csrf(client, "/settings")
        base = {"csrf_token": token, "action": "token-create", "name": "x"}
        for extra, status, reason in (
            ({"scope": "admin"}, 400, "scope must be read or write"),
            ({"expires_days": "0"}, 400, "between 1 and 3650"),
            ({"expires_days": "soon"}, 400, "whole number of days"),
            ({"name": "n" * 101}, 400, "the limit is 100"),
        ):
            r = client.post("/settings", data={**base, **extra})
            assert r.status_code == status and reason in r.text, (extra, r.text)
            assert "new-token-secret" not in r.text
        r = client.post("/settings", data={**base, "action": "token-revoke", "token_id": "x"})
        assert r.status_code == 400 and "token_id must be a number" in r.text
        assert "You have no live tokens." in client.get("/settings").text

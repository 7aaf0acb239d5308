"""The chat settings page: add (checked, masked), test (rate-limited, delivered), remove; CSRF and bad input."""

from __future__ import annotations

from pathlib import Path

from _chat_helpers import Receiver
from _community_helpers import community_site, csrf, sign_up

from paperfeed.digest import chat
from paperfeed.store import Database
from paperfeed.store import chat as chat_store


def _post(client: object, **data: str) -> object:
    token = csrf(client, "/settings/chat")  # type: ignore[arg-type]
    return client.post(  # type: ignore[attr-defined]
        "/settings/chat", data={"csrf_token": token, **data}, follow_redirects=False
    )


def test_member_adds_tests_and_removes_a_channel(db: Database, tmp_path: Path) -> None:
    with Receiver() as rx, community_site(db, tmp_path) as site:
        client = site.client()
        sign_up(site, client, "ada@example.org", "Ada")
        assert "/settings/chat" in client.get("/settings").text
        secret_url = f"json://user:s3cret@127.0.0.1:{rx.port}/hook-t0ken"
        # With the default rule a loopback target is refused, with the reason on the page.
        r = _post(client, action="add", url=secret_url, label="Lab")
        assert r.status_code == 400 and "non-public address" in r.text  # type: ignore[attr-defined]
        assert _post(client, action="add", url="windows://", label="x").status_code == 400  # type: ignore[attr-defined]
        # No CSRF token: refused, nothing stored.
        r = client.post("/settings/chat", data={"action": "add", "url": "ntfy://t"})
        assert r.status_code == 403
    with (
        Receiver() as rx,
        community_site(
            db, tmp_path, chat_allow_private_targets=True, chat_test_rate_per_hour=1
        ) as site,
    ):
        client = site.client()
        sign_up(site, client, "bea@example.org", "Bea")
        secret_url = f"json://user:s3cret@127.0.0.1:{rx.port}/hook-t0ken"
        r = _post(client, action="add", url=secret_url, label="Lab <b>")
        assert r.status_code == 303  # type: ignore[attr-defined]
        page = client.get("/settings/chat").text
        assert f"json://127.0.0.1:{rx.port}/…" in page and "Lab &lt;b&gt;" in page
        assert "s3cret" not in page and "t0ken" not in page
        with db.read() as conn:
            (ch,) = [c for u in (1, 2) for c in chat_store.channels_of(conn, u)]
        assert _post(client, action="test", channel=str(ch.id)).status_code == 303  # type: ignore[attr-defined]
        r = _post(client, action="test", channel=str(ch.id))
        assert r.status_code == 429 and "too many test messages" in r.text  # type: ignore[attr-defined]
        chat.deliver_due(db, site.settings)
        (got,) = rx.to("/hook-t0ken")
        assert "test message" in got.json()["title"]
        assert _post(client, action="remove", channel="99999").status_code == 400  # type: ignore[attr-defined]
        assert _post(client, action="remove", channel=str(ch.id)).status_code == 303  # type: ignore[attr-defined]
        assert "No chat channel yet" in client.get("/settings/chat").text

"""Changing the account address: the person proves who they are, the new mailbox confirms, the old one hears."""

from __future__ import annotations

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
    member_digest,
    outbox_row,
    sign_up,
)
from fastapi.testclient import TestClient

from paperfeed.errors import InvalidInput, PermissionDenied
from paperfeed.store import Database
from paperfeed.store import sessions as session_store
from paperfeed.store import users as user_store
from paperfeed.store.schema import auth_tokens, sessions


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _change(client: TestClient, email: str, password: str | None = None) -> tuple[int, str]:
    data = {"csrf_token": csrf(client, "/settings"), "action": "email", "email": email}
    if password is not None:
        data["current_password"] = password
    r = client.post("/settings", data=data, follow_redirects=False)
    return r.status_code, r.text


def _tokens(db: Database, kind: str) -> int:
    with db.read() as conn:
        q = sa.select(sa.func.count()).select_from(auth_tokens).where(auth_tokens.c.kind == kind)
        return int(conn.execute(q).scalar_one())


def _age_sessions(db: Database, minutes: int) -> None:
    with db.write() as conn:
        conn.execute(sa.update(sessions).values(created_at=_now() - timedelta(minutes=minutes)))


def test_change_needs_the_password_then_the_new_mailbox(db: Database, tmp_path: Path) -> None:
    with community_site(db, tmp_path) as site:
        client = site.client()
        sign_up(site, client, "ada@example.org", "Ada")
        other = site.client()  # a second signed-in browser of the same member
        assert (
            other.post(
                "/login",
                data={"csrf_token": csrf(other), "email": "ada@example.org", "password": PASSWORD},
                follow_redirects=False,
            ).status_code
            == 303
        )
        sent = len(site.smtp.handler.messages)
        # A session cookie alone (the review's stolen-session case) cannot move the account.
        code, text = _change(client, "thief@example.org")
        assert code == 400 and "current password is wrong" in text
        code, text = _change(client, "thief@example.org", "not the password")
        assert code == 400 and "current password is wrong" in text
        assert _tokens(db, "email") == 0 and len(site.smtp.handler.messages) == sent

        code, _ = _change(client, "Ada.New@example.org", PASSWORD)
        assert code == 303
        # The old address is told, with the new one named; nothing has changed yet.
        notice = site.smtp.handler.to("ada@example.org")[-1].message
        assert "about to change" in notice["Subject"]
        assert "Ada.New@example.org" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        with db.read() as conn:
            assert user_store.get_by_email(conn, "ada@example.org") is not None

        r = confirm(client, mailed_link(site.smtp, "Ada.New@example.org"))
        assert r.status_code == 303 and "email-changed" in r.headers["location"]  # type: ignore[attr-defined]
        with db.read() as conn:
            assert user_store.get_by_email(conn, "ada@example.org") is None
            moved = user_store.get_by_email(conn, "ada.new@example.org")
        assert moved is not None and moved.email == "Ada.New@example.org"
        assert "Sign out" not in other.get("/").text  # every other session ended
        assert "Ada.New@example.org" in client.get("/settings").text


def test_a_passwordless_account_needs_a_recent_sign_in(db: Database, tmp_path: Path) -> None:
    with community_site(db, tmp_path) as site:
        client = site.client()
        client.post(
            "/signup",
            data={
                "csrf_token": csrf(client, "/signup"),
                "email": "lin@example.org",
                "display_name": "Lin",
            },
        )
        assert confirm(client, mailed_link(site.smtp, "lin@example.org")).status_code == 303  # type: ignore[attr-defined]
        page = client.get("/settings").text
        assert "within 10 minutes of signing in" in page and 'name="current_password"' not in page
        _age_sessions(db, 11)
        code, text = _change(client, "lin.new@example.org")
        assert code == 403 and "sign in again with an emailed link" in text
        assert _tokens(db, "email") == 0
        _age_sessions(db, 2)
        code, _ = _change(client, "lin.new@example.org")
        assert code == 303 and _tokens(db, "email") == 1
        assert site.smtp.handler.to("lin.new@example.org")


def test_taken_address_gets_no_mail_and_looks_the_same(site_db: Site) -> None:
    site = site_db
    client = site.client()
    sign_up(site, client, "ada@example.org", "Ada")
    with site.db.write() as conn:
        user_store.create_user(conn, "taken@example.org", "T", verified=True)
    code, _ = _change(client, "taken@example.org", PASSWORD)
    assert code == 303
    assert not site.smtp.handler.to("taken@example.org")


@pytest.fixture
def site_db(sqlite_db: Database, tmp_path: Path) -> Iterator[Site]:
    with community_site(sqlite_db, tmp_path) as site:
        yield site


def test_the_member_action_is_a_plain_function(db: Database, tmp_path: Path) -> None:
    from paperfeed import accounts

    with community_site(db, tmp_path) as site:
        with db.write() as conn:
            u = user_store.create_user(conn, "p@example.org", "P", verified=True)
        with pytest.raises(PermissionDenied):
            accounts.request_email_change(
                db, site.settings, u, "q@example.org", password="", signed_in_at=None
            )
        with pytest.raises(InvalidInput):
            accounts.request_email_change(
                db, site.settings, u, "P@example.org", password="", signed_in_at=_now()
            )
        mails = accounts.request_email_change(
            db, site.settings, u, "q@example.org", password="", signed_in_at=_now()
        )
        assert [m.to for m in mails] == ["q@example.org", "p@example.org"]
        with db.read() as conn:
            assert session_store.session_started(conn, "no such cookie") is None


def _member_sub(db: Database, email: str) -> tuple[int, int]:
    from paperfeed.store import outbox as store_outbox

    with db.write() as conn:
        u = user_store.create_user(conn, email, "M", verified=True)
        sub = member_digest(conn, u.id, email)
        store_outbox.insert_many(conn, [outbox_row(sub.id, email, "d1")])
    return u.id, sub.id


def test_the_members_digests_follow_the_new_address(db: Database) -> None:
    from paperfeed.store import outbox as store_outbox
    from paperfeed.store import subscriptions as store_subs

    uid, sid = _member_sub(db, "old@example.org")
    with db.write() as conn:
        user_store.set_email(conn, uid, "New@example.org")
    with db.write() as conn:
        sub = store_subs.for_user(conn, uid)
        assert sub is not None and sub.id == sid and sub.email == "New@example.org"
        assert store_subs.get_by_email(conn, "old@example.org") is None
        claimed = store_outbox.claim_next(conn)
    assert claimed is not None and claimed.to_addr == "New@example.org"


def test_an_existing_subscription_at_the_new_address_becomes_the_members(db: Database) -> None:
    from _digest_helpers import add_subscriber

    from paperfeed.store import outbox as store_outbox
    from paperfeed.store import subscriptions as store_subs

    uid, sid = _member_sub(db, "old@example.org")
    there = add_subscriber(db, "new@example.org")
    with db.write() as conn:
        user_store.set_email(conn, uid, "new@example.org")
    with db.write() as conn:
        sub = store_subs.for_user(conn, uid)
        assert sub is not None and sub.id == there.id and sub.active
        old = store_subs.get(conn, sid)
        assert old is not None and old.status == "unsubscribed" and old.user_id is None
        assert store_outbox.claim_next(conn) is None  # the old address's queued digest is cancelled

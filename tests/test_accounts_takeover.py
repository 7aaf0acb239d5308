"""Pre-registration takeover: only whoever reads a mailbox ever holds a password or a session for it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from _community_helpers import PASSWORD, Site, community_site, confirm, csrf, mailed_link
from fastapi.testclient import TestClient

from paperfeed.errors import PermissionDenied
from paperfeed.models import Paper
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.store import sessions as session_store
from paperfeed.store import users as user_store
from paperfeed.store.schema import auth_tokens, sessions
from paperfeed.web.auth import hash_password

OWNER = "owner@example.org"
ATTACKER_PASSWORD = "attacker chose this one"
OWNER_PASSWORD = "the owner's own passphrase"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _paper(db: Database) -> None:
    with db.write() as conn:
        paper_store.upsert_papers(
            conn,
            [
                Paper(
                    id="2611.00001",
                    title="A paper",
                    abstract="We study things.",
                    authors=["Grace Hopper"],
                    categories=["cs.LG"],
                    published=_now() - timedelta(days=1),
                )
            ],
        )


def _count(db: Database, table: sa.Table) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _login(client: TestClient, email: str, password: str) -> int:
    r = client.post(
        "/login",
        data={"csrf_token": csrf(client), "email": email, "password": password},
        follow_redirects=False,
    )
    return r.status_code


def _acts_as_owner(site: Site, client: TestClient) -> bool:
    """True when this client can read the owner's settings or comment as the owner."""
    settings = client.get("/settings", follow_redirects=False)
    if settings.status_code == 200 and OWNER in settings.text:
        return True
    r = client.post(
        "/comments",
        data={"csrf_token": csrf(client, "/"), "paper_id": "2611.00001", "body": "as the owner"},
        follow_redirects=False,
    )
    return r.status_code in (201, 303)


def test_the_reviewed_takeover_fails_end_to_end(db: Database, tmp_path: Path) -> None:
    _paper(db)
    with community_site(db, tmp_path) as site:
        attacker = site.client()
        # 1. Sign up with someone else's address and a password: the password is not taken.
        form = {"email": OWNER, "display_name": "Owner"}
        r = attacker.post(
            "/signup",
            data={"csrf_token": csrf(attacker, "/signup"), **form, "password": ATTACKER_PASSWORD},
        )
        if r.status_code == 400:  # today: refused with a reason, so sign up as the page says
            assert "confirmation link opens" in r.text
            r = attacker.post("/signup", data={"csrf_token": csrf(attacker, "/signup"), **form})
        assert r.status_code == 200 and "Check your email" in r.text
        # 2. Sign in before the address is verified: impossible, and no session row exists.
        assert _login(attacker, OWNER, ATTACKER_PASSWORD) == 400
        assert _count(db, sessions) == 0
        assert not _acts_as_owner(site, attacker)

        # 3. The owner clicks the link the attacker's sign-up mailed them and picks a password.
        link = mailed_link(site.smtp, OWNER)
        page = site.client().get(link.removeprefix("http://testserver"))
        assert 'name="password"' in page.text  # the password is chosen here, by the reader
        owner = site.client()
        assert confirm(owner, link, password=OWNER_PASSWORD).status_code == 303  # type: ignore[attr-defined]
        assert _acts_as_owner(site, owner)

        # 4. Nothing the attacker typed or held works afterwards.
        assert _login(attacker, OWNER, ATTACKER_PASSWORD) == 400
        assert not _acts_as_owner(site, attacker)
        assert _login(site.client(), OWNER, OWNER_PASSWORD) == 303
        # 5. A later magic-link sign-in by the owner is another proof; still nothing for them.
        owner.post("/login/link", data={"csrf_token": csrf(owner), "email": OWNER})
        assert confirm(owner, mailed_link(site.smtp, OWNER)).status_code == 303  # type: ignore[attr-defined]
        assert not _acts_as_owner(site, attacker)
        with db.read() as conn:
            n_comments = conn.execute(sa.text("SELECT count(*) FROM comments")).scalar_one()
        assert n_comments == 0  # nobody commented as the owner


def _legacy_attacker(db: Database) -> tuple[int, str]:
    """State left by the old code: an unverified account with the attacker's password and session."""
    with db.write() as conn:
        u = user_store.create_user(
            conn, OWNER, "Owner", password_hash=hash_password(ATTACKER_PASSWORD)
        )
        cookie = session_store.new_token()
        conn.execute(
            sessions.insert().values(
                token_hash=session_store.token_hash(cookie),
                user_id=u.id,
                created_at=_now(),
                expires_at=_now() + timedelta(days=30),
            )
        )
    return u.id, cookie


@pytest.mark.parametrize("how", ["magic", "signup-verify"])
def test_owner_proving_the_address_ends_a_planted_session_and_password(
    db: Database, tmp_path: Path, how: str
) -> None:
    _paper(db)
    with community_site(db, tmp_path) as site:
        _uid, cookie = _legacy_attacker(db)
        attacker = site.client()
        attacker.cookies.set("pf_session", cookie)
        assert not _acts_as_owner(site, attacker)  # an unverified account's session is dead
        owner = site.client()
        if how == "magic":
            owner.post("/login/link", data={"csrf_token": csrf(owner), "email": OWNER})
        else:
            owner.post(
                "/signup",
                data={"csrf_token": csrf(owner, "/signup"), "email": OWNER, "display_name": "Me"},
            )
        assert confirm(owner, mailed_link(site.smtp, OWNER)).status_code == 303  # type: ignore[attr-defined]
        assert _acts_as_owner(site, owner)
        assert not _acts_as_owner(site, attacker)
        assert _login(site.client(), OWNER, ATTACKER_PASSWORD) == 400
        with db.read() as conn:
            u = user_store.get_by_email(conn, OWNER)
        assert u is not None and u.password_hash is None


@pytest.mark.parametrize("kind", ["login", "verify", "email"])
def test_every_emailed_link_ends_other_sessions_and_revokes_other_links(
    db: Database, tmp_path: Path, kind: str
) -> None:
    with community_site(db, tmp_path) as site:
        with db.write() as conn:
            u = user_store.create_user(
                conn, OWNER, "Owner", password_hash=hash_password(PASSWORD), verified=True
            )
            stolen = session_store.create_session(conn, u.id, days=30)
            # A pending address change to the thief's mailbox, asked for with the stolen cookie.
            pending = session_store.create_token(
                conn, u.id, "email", minutes=60, data="thief@example.org"
            )
            data = "new@example.org" if kind == "email" else None
            link_token = session_store.create_token(conn, u.id, kind, minutes=60, data=data)
        path = {"login": "/login/magic?token=", "verify": "/verify?token="}.get(
            kind, "/verify?kind=email&token="
        )
        owner = site.client()
        assert confirm(owner, f"http://testserver{path}{link_token}").status_code == 303  # type: ignore[attr-defined]
        thief = site.client()
        thief.cookies.set("pf_session", stolen)
        assert "Sign out" not in thief.get("/").text
        assert "Sign out" in owner.get("/").text
        with db.read() as conn:
            assert session_store.session_user(conn, stolen) is None
            assert session_store.peek_token(conn, pending, "email") is None
            assert user_store.get_by_email(conn, "thief@example.org") is None
            live = conn.execute(
                sa.select(sa.func.count())
                .select_from(auth_tokens)
                .where(auth_tokens.c.user_id == u.id, auth_tokens.c.used_at.is_(None))
            ).scalar_one()
        assert live == 0


def test_no_session_for_an_unverified_account_in_the_store(db: Database) -> None:
    with db.write() as conn:
        u = user_store.create_user(conn, OWNER, "Owner")
    with db.write() as conn, pytest.raises(PermissionDenied):
        session_store.create_session(conn, u.id, days=1)
    assert _count(db, sessions) == 0


def test_a_bad_password_on_the_link_page_keeps_the_link(db: Database, tmp_path: Path) -> None:
    with community_site(db, tmp_path) as site:
        client = site.client()
        client.post(
            "/signup",
            data={"csrf_token": csrf(client, "/signup"), "email": OWNER, "display_name": "O"},
        )
        link = mailed_link(site.smtp, OWNER)
        r = confirm(client, link, password="short")
        assert r.status_code == 400 and "12 characters" in r.text  # type: ignore[attr-defined]
        assert re.search(r'name="token" value="[\w-]+"', r.text)  # type: ignore[attr-defined]
        assert confirm(client, link, password=OWNER_PASSWORD).status_code == 303  # type: ignore[attr-defined]
        assert _login(site.client(), OWNER, OWNER_PASSWORD) == 303


def test_migration_drops_passwords_and_sessions_that_never_proved_the_address(
    db: Database,
) -> None:
    from paperfeed.store.migrations import m0008_accounts

    uid, cookie = _legacy_attacker(db)
    with db.write() as conn:
        v = user_store.create_user(
            conn, "v@example.org", "V", password_hash=hash_password(PASSWORD), verified=True
        )
        before = session_store.new_token()  # a session begun before the address was confirmed
        conn.execute(
            sessions.insert().values(
                token_hash=session_store.token_hash(before),
                user_id=v.id,
                created_at=_now() - timedelta(days=2),
                expires_at=_now() + timedelta(days=28),
            )
        )
        after = session_store.create_session(conn, v.id, days=1)
        m0008_accounts.upgrade(conn, db.dialect)
    with db.read() as conn:
        owner = user_store.get_user(conn, uid)
        assert owner is not None and owner.password_hash is None
        assert session_store.session_started(conn, cookie) is None
        assert session_store.session_started(conn, before) is None
        assert session_store.session_user(conn, after) is not None
        kept = user_store.get_user(conn, v.id)
    assert kept is not None and kept.password_hash is not None

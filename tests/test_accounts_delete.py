"""Deleting an account removes everything that acts for it or mails it, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from _community_helpers import PASSWORD, community_site, csrf, member_digest, outbox_row, sign_up
from _digest_helpers import add_papers, add_subscriber

from paperfeed.service.tokens import create_token
from paperfeed.store import Database, mailqueue
from paperfeed.store import chat as chat_store
from paperfeed.store import claims as claim_store
from paperfeed.store import comments as comment_store
from paperfeed.store import follows as follow_store
from paperfeed.store import library as lib
from paperfeed.store import notifications as note_store
from paperfeed.store import outbox as store_outbox
from paperfeed.store import recommendations as recs
from paperfeed.store import sessions as session_store
from paperfeed.store import submissions as submission_store
from paperfeed.store import subscriptions as store_subs
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store
from paperfeed.store.schema import mail_queue, metadata, outbox, sent_items, subscriptions
from paperfeed.web.auth import hash_password

DAY = date(2026, 11, 27)


def _count(db: Database, table: sa.Table, where: sa.ColumnElement[bool] | None = None) -> int:
    q = sa.select(sa.func.count()).select_from(table)
    if where is not None:
        q = q.where(where)
    with db.read() as conn:
        return int(conn.execute(q).scalar_one())


def _user_tables() -> list[sa.Table]:
    return [t for t in metadata.sorted_tables if "user_id" in t.c]


def test_deletion_leaves_no_row_that_acts_for_or_mails_the_member(db: Database) -> None:
    ids = add_papers(db, DAY, 3)
    # Subscribed anonymously with the account's address before joining ...
    anonymous = add_subscriber(db, "Ada@Example.org")
    with db.write() as conn:
        u = user_store.create_user(
            conn, "ada@example.org", "Ada", password_hash=hash_password(PASSWORD), verified=True
        )
        other = user_store.create_user(conn, "bob@example.org", "Bob", verified=True)
        # ... and as a member under an earlier address, kept after an address change.
        member = member_digest(conn, u.id, "ada.old@example.org")
        bob_sub = member_digest(conn, other.id, other.email)
        store_outbox.insert_many(
            conn,
            [
                outbox_row(anonymous.id, "Ada@Example.org", "a1"),
                outbox_row(member.id, "ada.old@example.org", "m1"),
                outbox_row(bob_sub.id, other.email, "b1"),
            ],
        )
        store_subs.add_sent_items(conn, [(member.id, ids[0], None), (bob_sub.id, ids[0], None)])
        # A sign-in link still queued for the account's address, and one for Bob.
        mailqueue.enqueue(conn, "ada@example.org", "Sign in", "<a@x>", "link")
        mailqueue.enqueue(conn, other.email, "Sign in", "<b@x>", "link")
        # A chat channel with a queued alert, and Bob's, which stays.
        chat_store.add_channel(conn, u.id, "json://chat.example.org/hook", "Mine")
        chat_store.add_channel(conn, other.id, "json://chat.example.org/bob", "Bob's")
        assert chat_store.enqueue_alert(conn, u.id, "k1", "New paper", "body", "http://x/p")
        assert chat_store.enqueue_alert(conn, other.id, "k1", "New paper", "body", "http://x/p")
        vote_store.add_vote(conn, u.id, ids[0])
        comment_store.add_comment(conn, ids[0], u.id, "hello")
        submission_store.add_submission(conn, ids[1], u.id, u.username, day=DAY, at=None)
        session_store.create_session(conn, u.id, days=1)
        session_store.create_token(conn, u.id, "login", minutes=10)
        col = lib.get_or_create_collection(conn, u.id, "Reading")
        lib.save(conn, u.id, ids[0], [col.id])
        lib.hide(conn, u.id, ids[2])
        lib.record_impressions(conn, u.id, [ids[1]])
        recs.replace(
            conn,
            u.id,
            "",
            [recs.StoredRec(ids[1], 1.0)],
            profile_key="x",
            corpus_rev=0,
            method="model",
            positives=1,
            negatives=0,
        )
        # --- follows: a follow with a match, a notification, the private feed key ---
        f, _ = follow_store.add(conn, u.id, "category", "cs.lg", "cs.LG")
        follow_store.record_matches(conn, [(f.id, u.id, ids[0], 0)])
        note_store.add_many(conn, [(u.id, "match:1", "match", ids[0], "New")])
        follow_store.feed_nonce(conn, u.id)
    with db.write() as conn:  # authors: an authorship claim goes with the account
        claim_store.add_claim(
            conn,
            paper_id=ids[0],
            position=0,
            user_id=u.id,
            name="Author 0",
            slug="author-0",
            orcid=None,
            at=datetime(2026, 11, 27),
        )

    create_token(db, u, scope="write", name="laptop")
    # Every table that names a member must be exercised here, so a new one cannot be forgotten
    # by deletion: add rows for it above and make delete_user remove them.
    unfilled = [t.name for t in _user_tables() if not _count(db, t, t.c.user_id == u.id)]
    assert unfilled == [], f"give the deleted member rows in {unfilled} (and delete them)"

    with db.write() as conn:
        assert user_store.delete_user(conn, u.id)

    left = {t.name: _count(db, t, t.c.user_id == u.id) for t in _user_tables()}
    assert {k: v for k, v in left.items() if v} == {}
    assert _count(db, subscriptions, subscriptions.c.email_key.like("ada%")) == 0
    assert _count(db, outbox, outbox.c.to_addr.ilike("ada%")) == 0
    assert _count(db, sent_items, sent_items.c.subscription_id == member.id) == 0
    assert _count(db, mail_queue, mail_queue.c.to_key == "ada@example.org") == 0
    assert _count(db, mail_queue, mail_queue.c.to_key == other.email) == 1
    with db.read() as conn:
        assert [c.label for c in chat_store.channels_of(conn, other.id)] == ["Bob's"]
        assert chat_store.states_of(conn)["pending"] == 1  # Bob's alert is still queued
    with db.write() as conn:
        assert [s.email for s in store_subs.active_batch(conn)] == [other.email]
        claimed = store_outbox.claim_next(conn)
        assert claimed is not None and claimed.to_addr == other.email  # Bob is untouched
        assert store_outbox.claim_next(conn) is None


def test_a_deleted_member_gets_no_more_digests_through_the_web(
    db: Database, tmp_path: Path
) -> None:
    with community_site(db, tmp_path) as site:
        client = site.client()
        sign_up(site, client, "ada@example.org", "Ada")
        token = csrf(client, "/settings/digests")
        r = client.post(
            "/settings/digests",
            data={"csrf_token": token, "frequency": "daily", "hour": "7", "sections": "featured"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert _count(db, subscriptions, subscriptions.c.status == "active") == 1
        page = client.get("/settings").text
        assert re.search(r'name="current_password"', page)
        r = client.post(
            "/settings",
            data={
                "csrf_token": csrf(client, "/settings"),
                "action": "delete",
                "confirm": "delete",
                "current_password": PASSWORD,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert _count(db, subscriptions) == 0
        with db.read() as conn:
            assert store_subs.get_by_email(conn, "ada@example.org") is None

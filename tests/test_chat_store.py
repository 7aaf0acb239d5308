"""Chat push store: channels, the outbox's exactly-once keys, claims under a lease, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

from paperfeed.store import Database
from paperfeed.store import chat as chat_store
from paperfeed.store import users as user_store

LEASE = timedelta(seconds=60)
NOW = datetime(2030, 1, 1, 12, 0)


def _member(db: Database, name: str = "ada") -> int:
    with db.write() as conn:
        return user_store.create_user(conn, f"{name}@example.org", name, verified=True).id


def test_enqueue_once_per_key_per_enabled_channel(db: Database) -> None:
    ada, bob = _member(db, "ada"), _member(db, "bob")
    with db.write() as conn:
        assert chat_store.enqueue_alert(conn, ada, "k", "t", "b", "http://x/") == 0  # no channel
        a1 = chat_store.add_channel(conn, ada, "json://hooks.example.org/a", "A")
        a2 = chat_store.add_channel(conn, ada, "ntfy://ntfy.example.org/topic", "B" * 300)
        chat_store.add_channel(conn, bob, "json://hooks.example.org/bob", "Bob")
        assert a2.label == "B" * 100
        assert chat_store.enqueue_alert(conn, ada, "paper:1", "New", "Body", "http://x/1") == 2
        assert chat_store.enqueue_alert(conn, ada, "paper:1", "New", "Body", "http://x/1") == 0
        long_key = "paper:" + "é" * 400
        assert chat_store.enqueue_alert(conn, ada, long_key, "t", "b", "http://x/2") == 2
        assert chat_store.enqueue_alert(conn, ada, long_key, "t", "b", "http://x/2") == 0
        assert chat_store.count_channels(conn, ada) == 2
        assert chat_store.states_of(conn, ada)["pending"] == 4
        assert chat_store.states_of(conn, bob)["pending"] == 0
        # Removing a channel takes its alerts; someone else's channel cannot be removed.
        assert not chat_store.remove_channel(conn, bob, a1.id)
        assert chat_store.remove_channel(conn, ada, a1.id)
        assert chat_store.states_of(conn, ada)["pending"] == 2
        assert [c.id for c in chat_store.channels_of(conn, ada)] == [a2.id]


def test_claim_lease_and_outcomes(db: Database) -> None:
    ada = _member(db)
    with db.write() as conn:
        ch = chat_store.add_channel(conn, ada, "json://hooks.example.org/a", "A")
        chat_store.enqueue_alert(conn, ada, "one", "T1", "B1", "http://x/1", now=NOW)
        chat_store.enqueue_alert(conn, ada, "two", "T2", "B2", "http://x/2", now=NOW)
        a = chat_store.claim(conn, lease=LEASE, now=NOW)
        b = chat_store.claim(conn, lease=LEASE, now=NOW)
        assert chat_store.claim(conn, lease=LEASE, now=NOW) is None  # both held
        assert not chat_store.has_due(conn, now=NOW)
    assert a is not None and b is not None and (a.title, b.title) == ("T1", "T2")
    assert a.url == "json://hooks.example.org/a" and a.attempts == 1
    later = NOW + LEASE + timedelta(seconds=1)
    with db.write() as conn:
        assert chat_store.has_due(conn, now=later)  # a's sender died: its lease ran out
        again = chat_store.claim(conn, lease=LEASE, now=later)
        assert again is not None and again.id == a.id and again.claim_token != a.claim_token
        assert again.attempts == 2
        assert not chat_store.mark_sent(conn, a)  # the old holder records nothing
        assert chat_store.mark_sent(conn, again)
        assert chat_store.mark_retry(conn, b, "HTTP 500", next_attempt_at=later + LEASE)
        assert chat_store.claim(conn, lease=LEASE, now=later) is None  # b not due yet
        b2 = chat_store.claim(conn, lease=LEASE, now=later + LEASE)
        assert b2 is not None and b2.id == b.id
        assert chat_store.mark_failed(conn, b2, "HTTP 500 again", now=later)
        got = chat_store.get_channel(conn, ada, ch.id)
        assert got is not None and got.last_error == "HTTP 500 again"
        assert chat_store.states_of(conn) == {"pending": 0, "sending": 0, "sent": 1, "failed": 1}
        assert chat_store.purge_finished(conn, NOW + timedelta(days=1)) == 2


def test_disabled_channel_is_not_claimed(db: Database) -> None:
    ada = _member(db)
    with db.write() as conn:
        ch = chat_store.add_channel(conn, ada, "json://hooks.example.org/a", "A")
        chat_store.enqueue_alert(conn, ada, "one", "T", "B", "http://x/1", now=NOW)
        conn.execute(
            chat_store.chat_channels.update()
            .where(chat_store.chat_channels.c.id == ch.id)
            .values(enabled=False)
        )
        assert chat_store.claim(conn, lease=LEASE, now=NOW) is None
        assert chat_store.enqueue_alert(conn, ada, "two", "T", "B", "http://x/2") == 0

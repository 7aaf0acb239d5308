"""Store contract for subscriptions, sent items and the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from _digest_helpers import add_papers, add_subscriber

from paperfeed.store import Database
from paperfeed.store import outbox as store_outbox
from paperfeed.store import subscriptions as store_subs

T0 = datetime(2026, 11, 27, 8, 0)


def _request(db: Database, email: str, token_hash: str, now: datetime = T0) -> tuple[int, bool]:
    with db.write() as conn:
        sub, send = store_subs.request(
            conn,
            email,
            confirm_token_hash=token_hash,
            unsubscribe_token="u-" + token_hash,
            frequency="daily",
            sections=["trending", "featured"],
            timezone="Europe/Paris",
            hour=7,
            now=now,
        )
    return sub.id, send


def test_double_opt_in_lifecycle(db: Database) -> None:
    sid, send = _request(db, "Ada@Example.org", "h1")
    assert send
    with db.read() as conn:
        sub = store_subs.get_by_email(conn, "ada@example.org")
        assert sub is not None and sub.status == "pending" and sub.email == "Ada@Example.org"
        assert store_subs.pending_by_confirm_hash(conn, "h1") is not None
    # Asking again while pending replaces the token: the old link stops working.
    sid2, send = _request(db, "ada@example.org", "h2")
    assert sid2 == sid and send
    with db.write() as conn:
        assert store_subs.confirm(conn, "h1", now=T0) is None
        sub = store_subs.confirm(conn, "h2", now=T0)
    assert sub is not None and sub.status == "active" and sub.confirmed_at == T0
    # An active address gets no new confirmation mail and stays active.
    _, send = _request(db, "ADA@example.org", "h3")
    assert not send
    with db.write() as conn:
        gone = store_subs.unsubscribe(conn, "u-h1")
        assert gone is not None and gone.status == "unsubscribed"
        assert store_subs.unsubscribe(conn, "u-h1") is not None  # idempotent
        assert store_subs.unsubscribe(conn, "nope") is None
    # Coming back needs a fresh opt-in.
    _, send = _request(db, "ada@example.org", "h4")
    assert send
    with db.read() as conn:
        assert store_subs.status_counts(conn) == {"pending": 1}


def test_confirm_link_expires(db: Database) -> None:
    _request(db, "late@example.org", "old", now=T0)
    with db.write() as conn:
        assert store_subs.confirm(conn, "old", now=T0 + timedelta(days=8)) is None
        assert store_subs.confirm(conn, "old", now=T0 + timedelta(days=6)) is not None


def test_bounces_stop_after_limit(db: Database) -> None:
    sub = add_subscriber(db, "b@example.org")
    with db.write() as conn:
        assert store_subs.record_bounce(conn, sub.id, limit=2).status == "active"  # type: ignore[union-attr]
        assert store_subs.record_bounce(conn, sub.id, limit=2).status == "bounced"  # type: ignore[union-attr]
        assert store_subs.active_batch(conn) == []


def test_sent_items_are_unique(db: Database) -> None:
    ids = add_papers(db, date(2026, 11, 27), 3)
    sub = add_subscriber(db, "s@example.org")
    with db.write() as conn:
        store_subs.add_sent_items(conn, [(sub.id, ids[0], None), (sub.id, ids[1], None)])
        store_subs.add_sent_items(conn, [(sub.id, ids[0], None)])
        assert store_subs.sent_paper_ids(conn, [sub.id]) == {sub.id: {ids[0], ids[1]}}


def _row(sub_id: int, period: str, token: str) -> dict[str, object]:
    return {
        "subscription_id": sub_id,
        "period": period,
        "token": token,
        "message_id": f"<{token}@x>",
        "to_addr": "x@example.org",
        "subject": "s",
        "content": {"sections": []},
        "items": 0,
        "status": "pending",
    }


def test_outbox_unique_claim_retry_and_counts(db: Database) -> None:
    a = add_subscriber(db, "a@example.org")
    b = add_subscriber(db, "b@example.org")
    with db.write() as conn:
        ids = store_outbox.insert_many(conn, [_row(a.id, "d:1", "t1"), _row(b.id, "d:1", "t2")])
        assert set(ids) == {(a.id, "d:1"), (b.id, "d:1")}
        # Same key again: nothing inserted, nothing returned.
        assert store_outbox.insert_many(conn, [_row(a.id, "d:1", "t3")]) == {}
        assert store_outbox.existing_periods(conn, [(a.id, "d:1"), (a.id, "d:2")]) == {
            (a.id, "d:1")
        }
    now = datetime.now().replace(microsecond=0) + timedelta(seconds=1)
    with db.write() as conn:
        first = store_outbox.claim_next(conn, now=now)
        second = store_outbox.claim_next(conn, now=now)
        assert store_outbox.claim_next(conn, now=now) is None
    assert first is not None and second is not None and first.id != second.id
    assert first.status == "sending" and first.attempts == 1 and first.unsubscribe_token
    with db.write() as conn:
        store_outbox.mark_sent(conn, first.id)
        store_outbox.mark_retry(conn, second.id, "451", next_attempt_at=now + timedelta(hours=1))
        assert store_outbox.claim_next(conn, now=now) is None
        again = store_outbox.claim_next(conn, now=now + timedelta(hours=2))
    assert again is not None and again.id == second.id and again.attempts == 2
    # A row stuck in 'sending' is taken again only once its lease ran out.
    with db.write() as conn:
        later = now + timedelta(hours=3)
        assert store_outbox.claim_next(conn, now=later, stale_before=now) is None
        stale = store_outbox.claim_next(conn, now=later, stale_before=later)
    assert stale is not None and stale.id == second.id
    with db.write() as conn:
        store_outbox.release(conn, stale.id, "connection lost")
        counts = store_outbox.status_counts(conn)
    assert counts["sent"] == 1 and counts["pending"] == 1
    with db.read() as conn:
        row = store_outbox.get_by_token(conn, "t2")
    assert row is not None and row.attempts == 2 and row.last_error == "connection lost"


def test_unsubscribed_rows_are_cancelled_not_claimed(db: Database) -> None:
    a = add_subscriber(db, "a@example.org")
    with db.write() as conn:
        store_outbox.insert_many(conn, [_row(a.id, "d:1", "t1")])
        store_subs.unsubscribe(conn, a.unsubscribe_token)
        assert store_outbox.claim_next(conn, now=datetime.now() + timedelta(seconds=5)) is None
        assert store_outbox.status_counts(conn)["cancelled"] == 1  # the claim cancelled it
    b = add_subscriber(db, "b@example.org")
    with db.write() as conn:
        store_outbox.insert_many(conn, [_row(b.id, "d:1", "t2")])
        store_subs.unsubscribe(conn, b.unsubscribe_token)
        assert store_outbox.cancel_inactive(conn) == 1
        assert store_outbox.status_counts(conn)["cancelled"] == 2


def test_two_workers_claim_different_rows(db: Database) -> None:
    """A row claimed in one worker's open transaction is never claimed by another worker."""
    import threading

    a = add_subscriber(db, "a@example.org")
    b = add_subscriber(db, "b@example.org")
    with db.write() as conn:
        store_outbox.insert_many(conn, [_row(a.id, "d:1", "t1"), _row(b.id, "d:1", "t2")])
    now = datetime.now() + timedelta(seconds=5)
    if db.dialect == "postgresql":
        # SKIP LOCKED: the second worker passes over the locked row at once.
        with db.write() as first:
            one = store_outbox.claim_next(first, now=now)
            with db.write() as second:
                two = store_outbox.claim_next(second, now=now)
                assert store_outbox.claim_next(second, now=now) is None
    else:
        # BEGIN IMMEDIATE: the second worker waits for the first to commit, then takes the other row.
        claimed: list[object] = []

        def second_worker() -> None:
            with db.write() as second:
                claimed.append(store_outbox.claim_next(second, now=now))

        with db.write() as first:
            one = store_outbox.claim_next(first, now=now)
            worker = threading.Thread(target=second_worker)
            worker.start()
            worker.join(timeout=0.5)
            assert worker.is_alive() and not claimed  # blocked behind the open writer
        worker.join(timeout=30)
        two = claimed[0]
    assert one is not None and two is not None and one.id != two.id

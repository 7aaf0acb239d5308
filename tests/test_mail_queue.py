"""The account-mail queue: off the request path, claimed under a lease, sent once, judged like digests."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from _digest_helpers import RecordingHandler, SmtpServer, smtp_env, smtp_settings
from conftest import ROOT

from paperfeed.config import Settings
from paperfeed.digest import postbox
from paperfeed.digest.mail import ConsoleMailer
from paperfeed.digest.render import text_message
from paperfeed.store import Database, open_database
from paperfeed.store import mailqueue as store_queue

LEASE = timedelta(seconds=60)


def _settings(db: Database, port: int = 1, **kw: object) -> Settings:
    return smtp_settings(db, port, **kw)  # type: ignore[no-any-return]


def _queue(db: Database, settings: Settings, to: str, subject: str = "Sign in") -> int:
    with db.write() as conn:
        return postbox.enqueue(conn, text_message(settings, to, subject, f"Hello {to}\n"))


def _rows(db: Database) -> list[dict[str, object]]:
    with db.read() as conn:
        q = store_queue.mail_queue.select().order_by(store_queue.mail_queue.c.id)
        return [dict(r._mapping) for r in conn.execute(q)]


# --- the store -------------------------------------------------------------------------------


def test_claim_lease_mark_and_delete(db: Database) -> None:
    settings = _settings(db)
    first = _queue(db, settings, "Ada@example.org")
    _queue(db, settings, "bob@example.org")
    now = datetime(2030, 1, 1, 12, 0)
    with db.write() as conn:
        assert store_queue.pending_count(conn) == 2
        a = store_queue.claim(conn, lease=LEASE, now=now)
        b = store_queue.claim(conn, lease=LEASE, now=now)
        assert store_queue.claim(conn, lease=LEASE, now=now) is None  # both are held
    assert a is not None and b is not None and a.id == first and b.id != a.id
    assert a.attempts == 1 and "Hello Ada@example.org" in a.message
    # a's sender dies; after the lease another sender takes the row with a new claim token.
    with db.write() as conn:
        again = store_queue.claim(conn, lease=LEASE, now=now + LEASE + timedelta(seconds=1))
        assert again is not None and again.id == a.id and again.claim_token != a.claim_token
        assert again.attempts == 2
        assert not store_queue.mark_sent(conn, a)  # the old holder cannot record anything
        assert store_queue.mark_sent(conn, again)
        assert store_queue.mark_retry(conn, b, "451 later", next_attempt_at=now + LEASE)
        assert store_queue.claim(conn, lease=LEASE, now=now) is None  # b not due yet
        assert store_queue.pending_count(conn) == 1
        counts = store_queue.status_counts(conn)
    assert (counts["sent"], counts["pending"]) == (1, 1)
    sent = next(r for r in _rows(db) if r["id"] == a.id)
    assert sent["message"] == "" and sent["status"] == "sent"  # the sign-in link is not kept
    with db.write() as conn:
        assert store_queue.delete_to(conn, "ADA@example.org ") == 1
        assert store_queue.delete_to(conn, "bob@example.org") == 1
        assert store_queue.pending_count(conn) == 0


def test_deleted_address_gets_nothing(db: Database) -> None:
    with SmtpServer() as server:
        settings = _settings(db, server.port)
        _queue(db, settings, "leaving@example.org")
        _queue(db, settings, "staying@example.org")
        with db.write() as conn:  # what deleting the account does
            store_queue.delete_to(conn, "Leaving@Example.org")
        report = postbox.deliver_due(db, settings)
    assert report.sent == 1 and [m.rcpt_tos for m in server.handler.messages] == [
        ["staying@example.org"]
    ]


def test_queue_refusals_are_judged_like_digests(db: Database) -> None:
    handler = RecordingHandler(
        rcpt_replies={
            "gone@example.org": "550 5.1.1 no such user",
            "busy@example.org": "450 4.2.1 mailbox busy",
        }
    )
    with SmtpServer(handler) as server:
        settings = _settings(db, server.port)
        for to in ("gone@example.org", "busy@example.org", "ok@example.org"):
            _queue(db, settings, to)
        report = postbox.deliver_due(db, settings)
        assert (report.sent, report.retried, report.bounced, report.stopped) == (1, 1, 1, False)
        statuses = {r["to_addr"]: r["status"] for r in _rows(db)}
        assert statuses == {
            "gone@example.org": "bounced",
            "busy@example.org": "pending",
            "ok@example.org": "sent",
        }
        # A quota refusal at DATA stops the drain; the message waits, nobody is blamed.
        handler.data_reply = "550 5.4.5 Daily user sending quota exceeded"
        _queue(db, settings, "later@example.org")
        _queue(db, settings, "later2@example.org")
        stopped = postbox.deliver_due(db, settings)
    assert stopped.stopped and "5.4.5" in stopped.error and stopped.bounced == 0
    later = [r for r in _rows(db) if str(r["to_addr"]).startswith("later")]
    assert [r["status"] for r in later] == ["pending", "pending"]
    assert sorted(int(str(r["attempts"])) for r in later) == [0, 1]


def test_two_senders_never_send_a_message_twice(database_url: str) -> None:
    dbs = [open_database(database_url), open_database(database_url)]
    with SmtpServer() as server:
        settings = _settings(dbs[0], server.port)
        emails = [f"m{i:02d}@example.org" for i in range(30)]
        for e in emails:
            _queue(dbs[0], settings, e)
        reports: list[postbox.PostReport] = []
        threads = [
            threading.Thread(target=lambda d=d: reports.append(postbox.deliver_due(d, settings)))
            for d in dbs
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    per_address = Counter(r for m in server.handler.messages for r in m.rcpt_tos)
    assert per_address == Counter(emails)  # everyone once
    assert sum(r.sent for r in reports) == 30
    for d in dbs:
        d.dispose()


# --- off the request path --------------------------------------------------------------------


def test_console_backend_prints_queued_mail(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(db).with_(mail_backend="console")
    postbox.post(settings, db, text_message(settings, "dev@example.org", "Sign in", "link\n"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.read() as conn:
            if store_queue.pending_count(conn) == 0:
                break
        time.sleep(0.02)
    out = capsys.readouterr().out
    assert "Subject: Sign in" in out and "To: dev@example.org" in out
    out_stream = io.StringIO()
    _queue(db, settings, "dev2@example.org")
    assert postbox.deliver_due(db, settings, ConsoleMailer(out_stream)).sent == 1
    assert "dev2@example.org" in out_stream.getvalue()


def test_worker_has_a_mail_job() -> None:
    from paperfeed.worker import JOBS, scheduled_jobs

    job = JOBS["send_mail"]
    assert job in [j for j, _ in scheduled_jobs(Settings())]
    assert job not in [j for j, _ in scheduled_jobs(Settings(schedule_mail=""))]


# --- crashes ---------------------------------------------------------------------------------

_DRAIN = "from paperfeed.config import Settings; from paperfeed.digest.postbox import deliver_due; from paperfeed.store import open_database; s = Settings.from_env(); deliver_due(open_database(s.database_url), s)"


def _kill_mid_send(url: str, port: int, until: object) -> None:
    env = smtp_env(url, port, PAPERFEED_MAIL_QUEUE_LEASE="1")
    proc = subprocess.Popen([sys.executable, "-c", _DRAIN], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while not until() and time.monotonic() < deadline and proc.poll() is None:  # type: ignore[operator]
        time.sleep(0.01)
    assert proc.poll() is None, "the sender ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _sending(db: Database) -> bool:
    return any(r["status"] == "sending" for r in _rows(db))


def test_sender_killed_before_data_sends_exactly_once_after_restart(database_url: str) -> None:
    db = open_database(database_url)
    handler = RecordingHandler(rcpt_delay=5.0)  # the kill lands while RCPT waits for its reply
    with SmtpServer(handler) as server:
        settings = _settings(db, server.port, mail_queue_lease=1.0)
        _queue(db, settings, "once@example.org")
        _kill_mid_send(db.url, server.port, lambda: handler.calls.get("RCPT"))
        assert handler.messages == [] and _sending(db)
        time.sleep(1.2)  # the dead sender's lease runs out
        handler.rcpt_delay = 0.0
        report = postbox.deliver_due(db, settings)
        time.sleep(0.5)
    assert report.sent == 1 and len(handler.to("once@example.org")) == 1
    assert [r["status"] for r in _rows(db)] == ["sent"]
    db.dispose()


def test_sender_killed_after_data_resends_at_most_once_with_the_same_message_id(
    database_url: str,
) -> None:
    # The documented window: the server took the message but the sender died before marking it.
    db = open_database(database_url)
    handler = RecordingHandler(reply_delay=5.0)  # filed, but the 250 comes too late
    with SmtpServer(handler) as server:
        settings = _settings(db, server.port, mail_queue_lease=1.0)
        _queue(db, settings, "twice@example.org")
        _kill_mid_send(db.url, server.port, lambda: handler.messages)
        time.sleep(1.2)  # the dead sender's lease runs out
        handler.reply_delay = 0.0
        report = postbox.deliver_due(db, settings)
    got = handler.to("twice@example.org")
    assert report.sent == 1 and len(got) == 2
    assert got[0].message["Message-ID"] == got[1].message["Message-ID"]
    assert [r["status"] for r in _rows(db)] == ["sent"]
    db.dispose()

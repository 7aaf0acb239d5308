"""SMTP refusals judged as RFC 5321/3463 say: one bad address never stops, a server refusal never bounces."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from _digest_helpers import (
    RecordingHandler,
    SmtpServer,
    add_papers,
    add_subscriber,
    smtp_settings,
)

from paperfeed.config import Settings
from paperfeed.digest import send
from paperfeed.store import Database
from paperfeed.store import outbox as store_outbox
from paperfeed.store import subscriptions as store_subs

FRIDAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 8, 0)
READERS = ["a@example.org", "b@example.org", "c@example.org", "d@example.org"]


def _settings(db: Database, port: int, **kw: object) -> Settings:
    # One bounce disables a subscription: any wrong blame shows at once.
    return smtp_settings(db, port, digest_bounce_limit=1, **kw)  # type: ignore[no-any-return]


def _readers(db: Database, emails: list[str] = READERS) -> dict[str, store_subs.Subscription]:
    add_papers(db, FRIDAY, 2)
    return {e: add_subscriber(db, e) for e in emails}


def _state(db: Database, sub: store_subs.Subscription) -> tuple[str, int, str, int]:
    with db.read() as conn:
        s = store_subs.get(conn, sub.id)
        [row] = store_outbox.for_subscription(conn, sub.id)
    assert s is not None
    return s.status, s.bounce_count, row.status, row.attempts


def test_one_refused_recipient_bounces_alone(db: Database) -> None:
    subs = _readers(db)
    handler = RecordingHandler(rcpt_replies={"b@example.org": "550 5.1.1 no such user"})
    with SmtpServer(handler) as server:
        report = send.run(db, _settings(db, server.port), now=NOW).send
    assert report is not None and not report.paused
    assert (report.sent, report.bounced) == (3, 1)
    assert _state(db, subs["b@example.org"])[:3] == ("bounced", 1, "bounced")
    for e in ("a@example.org", "c@example.org", "d@example.org"):
        assert _state(db, subs[e])[:3] == ("active", 0, "sent")
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == [
        "a@example.org",
        "c@example.org",
        "d@example.org",
    ]


def test_a_450_retries_that_message_later_and_the_run_goes_on(db: Database) -> None:
    subs = _readers(db)
    handler = RecordingHandler(rcpt_replies={"b@example.org": "450 4.2.1 mailbox busy"})
    with SmtpServer(handler) as server:
        settings = _settings(db, server.port, digest_retry_base=600.0)
        report = send.run(db, settings, now=NOW).send
        assert report is not None and not report.paused
        assert (report.sent, report.retried, report.bounced) == (3, 1, 0)
        assert _state(db, subs["b@example.org"]) == ("active", 0, "pending", 1)
        with db.read() as conn:
            [row] = store_outbox.for_subscription(conn, subs["b@example.org"].id)
        assert row.next_attempt_at > datetime.now()  # backoff: not before 10 minutes
        assert send.send_pending(db, settings).sent == 0
        handler.rcpt_replies.clear()
        with db.write() as conn:
            conn.execute(store_outbox.outbox.update().values(next_attempt_at=datetime(2000, 1, 1)))
        assert send.send_pending(db, settings).sent == 1
    assert len(handler.to("b@example.org")) == 1


@pytest.mark.parametrize(
    ("where", "reply"),
    [
        ("data", "550 5.4.5 Daily user sending quota exceeded"),
        ("data", "554 Transaction failed"),
        ("data", "554 5.7.1 Message rejected under policy"),
        ("mail", "421 4.7.0 Service closing transmission channel"),
        ("mail", "550 5.7.1 Sender address rejected"),
    ],
)
def test_a_server_refusal_stops_the_run_without_blaming_anyone(
    db: Database, where: str, reply: str
) -> None:
    subs = _readers(db)
    handler = RecordingHandler(**{f"{where}_reply": reply})  # type: ignore[arg-type]
    with SmtpServer(handler) as server:
        report = send.run(db, _settings(db, server.port), now=NOW).send
    assert report is not None and report.paused and reply[:3] in report.error
    assert (report.sent, report.bounced, report.failed) == (0, 0, 0)
    states = [_state(db, s) for s in subs.values()]
    # Nobody bounced; every digest is still pending; only the one tried counted an attempt.
    assert all(st[:3] == ("active", 0, "pending") for st in states)
    assert sorted(st[3] for st in states) == [0, 0, 0, 1]
    assert handler.messages == []
    # The next run, once the server takes mail again, sends all four.
    handler.data_reply = handler.mail_reply = ""
    with db.write() as conn:
        conn.execute(store_outbox.outbox.update().values(next_attempt_at=datetime(2000, 1, 1)))
    with SmtpServer(handler) as server:
        again = send.send_pending(db, _settings(db, server.port))
    assert again.sent == 4 and not again.paused


def test_non_ascii_address_without_smtputf8_bounces_alone(db: Database) -> None:
    emails = ["a@example.org", "josé@example.org", "ada@bücher.example", "d@example.org"]
    subs = _readers(db, emails)
    handler = RecordingHandler()
    with SmtpServer(handler) as server:  # aiosmtpd without SMTPUTF8, like many relays
        report = send.run(db, _settings(db, server.port), now=NOW).send
    assert report is not None and not report.paused
    assert (report.sent, report.bounced) == (3, 1)
    assert _state(db, subs["josé@example.org"])[:3] == ("bounced", 1, "bounced")
    with db.read() as conn:
        [row] = store_outbox.for_subscription(conn, subs["josé@example.org"].id)
    assert "SMTPUTF8" in (row.last_error or "")
    # An internationalised domain alone needs no extension: it goes out in its IDNA form.
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == [
        "a@example.org",
        "ada@xn--bcher-kva.example",
        "d@example.org",
    ]
    [idn] = handler.to("ada@xn--bcher-kva.example")
    assert idn.message["To"] == "ada@xn--bcher-kva.example"


def test_non_ascii_address_goes_out_where_smtputf8_is_offered(db: Database) -> None:
    subs = _readers(db, ["josé@example.org"])
    handler = RecordingHandler()
    with SmtpServer(handler, smtputf8=True) as server:
        report = send.run(db, _settings(db, server.port), now=NOW).send
    assert report is not None and report.sent == 1
    [got] = handler.messages
    assert got.rcpt_tos == ["josé@example.org"] and "SMTPUTF8" in handler.mail_options[0]
    assert got.message["To"] == "josé@example.org"
    assert _state(db, subs["josé@example.org"])[:3] == ("active", 0, "sent")


@pytest.mark.parametrize(
    ("phase", "reply", "expected"),
    [
        ("rcpt", "550 5.1.1 no such user", "bounce"),
        ("rcpt", "550 no such user here", "bounce"),
        ("rcpt", "551 5.1.6 user has moved", "bounce"),
        ("rcpt", "553 5.1.3 bad address syntax", "bounce"),
        ("rcpt", "550 5.2.1 mailbox disabled", "bounce"),
        ("rcpt", "450 4.2.1 mailbox busy", "retry"),
        ("rcpt", "451 4.7.1 greylisted, try again", "retry"),
        ("rcpt", "452 4.2.2 over quota", "retry"),
        ("rcpt", "552 5.2.2 over quota", "retry"),  # RFC 5321 4.5.3.1.10
        ("rcpt", "550 5.7.1 relaying denied", "stop"),
        ("rcpt", "554 5.7.1 client host blocked", "stop"),
        ("rcpt", "421 4.3.2 closing", "stop"),
        ("rcpt", "554 transaction failed", "stop"),
        ("mail", "550 5.4.5 Daily user sending quota exceeded", "stop"),
        ("mail", "451 4.3.0 try later", "stop"),
        ("data", "550 5.4.5 Daily user sending quota exceeded", "stop"),
        ("data", "554 5.6.0 message content rejected", "stop"),
        ("data", "552 5.3.4 message too big", "stop"),
        ("data", "552 5.2.3 message too long for mailbox", "stop"),
        ("data", "550 5.1.1 no such user", "bounce"),
        ("data", "452 4.3.1 insufficient system storage", "stop"),
        ("data", "451 4.7.1 try again", "retry"),
    ],
)
def test_reply_classification(phase: str, reply: str, expected: str) -> None:
    from paperfeed.digest.mail import refusal, verdict

    exc = refusal(phase, int(reply[:3]), reply[4:], "x@example.org")
    assert verdict(exc).value == expected

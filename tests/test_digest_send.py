"""Composing and sending digests to a real SMTP server on loopback."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from _digest_helpers import (
    RecordingHandler,
    SmtpServer,
    add_papers,
    add_subscriber,
    free_port,
    smtp_settings,
)

from paperfeed.config import Settings
from paperfeed.digest import compose, send
from paperfeed.digest.compose import period_for
from paperfeed.store import Database
from paperfeed.store import outbox as store_outbox
from paperfeed.store import subscriptions as store_subs

FRIDAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 8, 0)  # 08:00 UTC Friday, after the 07:00 slot


def _settings(db: Database, port: int, **kw: object) -> Settings:
    return smtp_settings(  # type: ignore[no-any-return]
        db,
        port,
        base_url="https://papers.example.org",
        mail_from="paperfeed <digest@papers.example.org>",
        **kw,
    )


def _outbox(db: Database, sub_id: int) -> list[store_outbox.OutboxRow]:
    with db.read() as conn:
        return store_outbox.for_subscription(conn, sub_id)


def test_period_schedule() -> None:
    # Before the hour: yesterday's slot; Saturday and Sunday fall back to Friday.
    assert period_for("daily", "UTC", 7, datetime(2026, 11, 27, 6, 59)).key == "d:2026-11-26"
    assert period_for("daily", "UTC", 7, datetime(2026, 11, 29, 12)).key == "d:2026-11-27"
    monday = period_for("daily", "UTC", 7, datetime(2026, 11, 30, 7))
    assert monday.key == "d:2026-11-30" and monday.start == FRIDAY
    # 23:30 UTC is already 08:30 next day in Tokyo.
    assert (
        period_for("daily", "Asia/Tokyo", 8, datetime(2026, 11, 26, 23, 30)).key == "d:2026-11-27"
    )
    weekly = period_for("weekly", "UTC", 7, datetime(2026, 11, 27, 8), weekly_day=0)
    assert weekly.key == "w:2026-W48" and weekly.day == date(2026, 11, 23)
    assert weekly.due_at == datetime(2026, 11, 23, 7)


def test_digest_headers_and_both_parts(sqlite_db: Database) -> None:
    db = sqlite_db
    ids = add_papers(db, FRIDAY, 3)
    sub = add_subscriber(db, "reader@example.org", sections=("featured", "trending"))
    with SmtpServer() as server:
        settings = _settings(db, server.port, digest_unsubscribe_mailto="unsubscribe@example.org")
        report = send.run(db, settings, now=NOW)
    assert report.compose.created == 1 and report.send is not None and report.send.sent == 1
    [got] = server.handler.messages
    assert got.rcpt_tos == ["reader@example.org"]
    msg = got.message
    [row] = _outbox(db, sub.id)
    assert row.status == "sent" and msg["Message-ID"] == row.message_id
    assert row.message_id.endswith("@papers.example.org>")
    assert msg["List-Id"] == "paperfeed digest <digest.papers.example.org>"
    unsubscribe = f"https://papers.example.org/unsubscribe/{sub.unsubscribe_token}"
    assert msg["List-Unsubscribe"].startswith(f"<{unsubscribe}>, <mailto:unsubscribe@example.org")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # Featured and trending share papers: each appears once, in the first section.
    for pid in ids:
        assert text.count(f"https://papers.example.org/papers/{pid}") == 1
        assert f"https://arxiv.org/pdf/{pid}" in html
    assert "Paper 0 on α-scaling" in text and "We study x² for case 0." in text
    assert "1000 upvotes" in text and "1000 upvote" in html
    assert "<script" not in html and 'style="' in html
    assert f"https://papers.example.org/digests/{row.token}" in html
    # Trending (no scores yet: the most upvoted recent papers) took all three, so the featured
    # section, which would only repeat them, is left out.
    assert "Trending papers" in text and "Today's featured papers" not in text


def test_each_paper_once_across_digests(sqlite_db: Database) -> None:
    db = sqlite_db
    first = add_papers(db, date(2026, 11, 26), 2, start=0)
    sub = add_subscriber(db, "once@example.org")
    settings = _settings(db, 1)
    compose.compose_due(db, settings, now=datetime(2026, 11, 26, 9))
    second = add_papers(db, FRIDAY, 2, start=100)
    # Friday's window includes Thursday, whose papers were already in Thursday's digest.
    compose.compose_due(db, settings, now=NOW)
    rows = _outbox(db, sub.id)
    got = [[i["id"] for s in r.content["sections"] for i in s["items"]] for r in rows]
    assert [r.period for r in rows] == ["d:2026-11-26", "d:2026-11-27"]
    assert got == [first, second]


def test_same_run_twice_gives_one_digest_each(sqlite_db: Database) -> None:
    db = sqlite_db
    add_papers(db, FRIDAY, 2)
    subs = [add_subscriber(db, f"r{i}@example.org") for i in range(3)]
    with SmtpServer() as server:
        settings = _settings(db, server.port)
        a = send.run(db, settings, now=NOW)
        b = send.run(db, settings, now=NOW)
    assert a.compose.created == 3 and b.compose.created == 0 and b.compose.due == 0
    assert sorted(r for m in server.handler.messages for r in m.rcpt_tos) == sorted(
        s.email for s in subs
    )


def test_nothing_new_is_not_sent_unless_configured(sqlite_db: Database) -> None:
    db = sqlite_db
    sub = add_subscriber(db, "quiet@example.org")
    with SmtpServer() as server:
        report = send.run(db, _settings(db, server.port), now=NOW)
        assert report.compose.skipped == 1 and server.handler.messages == []
        assert _outbox(db, sub.id)[0].status == "skipped"
        other = add_subscriber(db, "loud@example.org")
        send.run(db, _settings(db, server.port, digest_skip_empty=False), now=NOW)
    assert [m.rcpt_tos for m in server.handler.messages] == [[other.email]]


def test_smtp_failures_retry_bounce_and_fail(sqlite_db: Database) -> None:
    db = sqlite_db
    add_papers(db, FRIDAY, 2)
    emails = ["ok@example.org", "gone@example.org", "busy@example.org", "closing@example.org"]
    subs = {e: add_subscriber(db, e) for e in emails}
    handler = RecordingHandler(
        rcpt_replies={
            "gone@example.org": "550 5.1.1 no such user",
            "busy@example.org": "451 4.3.0 try again later",
            "closing@example.org": "421 4.3.2 service closing",
        }
    )
    with SmtpServer(handler) as server:
        settings = _settings(db, server.port, digest_bounce_limit=1, digest_retry_base=3600.0)
        report = send.run(db, settings, now=NOW)
        assert report.send is not None
        assert (report.send.sent, report.send.retried, report.send.bounced) == (1, 2, 1)
        with db.read() as conn:
            gone = store_subs.get(conn, subs["gone@example.org"].id)
        assert gone is not None and gone.status == "bounced" and gone.bounce_count == 1
        busy = _outbox(db, subs["busy@example.org"].id)[0]
        assert busy.status == "pending" and busy.attempts == 1 and "451" in (busy.last_error or "")
        assert busy.next_attempt_at > datetime.now()
        # Not due yet: a second run sends nothing.
        assert send.send_pending(db, settings).sent == 0
        # Once due and the server recovers, the same Message-ID goes out.
        handler.rcpt_replies.clear()
        with db.write() as conn:
            conn.execute(store_outbox.outbox.update().values(next_attempt_at=datetime(2000, 1, 1)))
        again = send.send_pending(db, settings)
    assert again.sent == 2 and again.bounced == 0  # the bounced row is final
    retried = [m for m in handler.messages if m.rcpt_tos == ["busy@example.org"]]
    assert retried[0].message["Message-ID"] == busy.message_id
    assert len(handler.to("gone@example.org")) == 0


def test_temporary_failures_end_as_failed(sqlite_db: Database) -> None:
    db = sqlite_db
    add_papers(db, FRIDAY, 1)
    sub = add_subscriber(db, "busy@example.org")
    handler = RecordingHandler(rcpt_replies={"busy@example.org": "451 later"})
    with SmtpServer(handler) as server:
        report = send.run(db, _settings(db, server.port, digest_max_attempts=1), now=NOW)
    assert report.send is not None and report.send.failed == 1
    assert _outbox(db, sub.id)[0].status == "failed"


def test_connection_failure_pauses_without_losing_rows(sqlite_db: Database) -> None:
    db = sqlite_db
    add_papers(db, FRIDAY, 1)
    subs = [add_subscriber(db, f"p{i}@example.org") for i in range(3)]
    port = free_port()
    report = send.run(db, _settings(db, port), now=NOW)
    assert report.send is not None and report.send.paused and report.send.sent == 0
    assert "smtp_host" in report.send.error
    for s in subs:
        [row] = _outbox(db, s.id)
        assert row.status == "pending" and row.attempts == 0
    handler = RecordingHandler()
    server = SmtpServer(handler)
    server.port = port
    from aiosmtpd.controller import Controller

    server.controller = Controller(handler, hostname="127.0.0.1", port=port)
    with server:
        resumed = send.send_pending(db, _settings(db, port))
    assert resumed.sent == 3 and not resumed.paused
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == sorted(s.email for s in subs)


def test_unsubscribe_between_compose_and_send_wins(sqlite_db: Database) -> None:
    db = sqlite_db
    add_papers(db, FRIDAY, 1)
    sub = add_subscriber(db, "leaving@example.org")
    with SmtpServer() as server:
        settings = _settings(db, server.port)
        compose.compose_due(db, settings, now=NOW)
        with db.write() as conn:
            store_subs.unsubscribe(conn, sub.unsubscribe_token)
        report = send.send_pending(db, settings)
    assert report.sent == 0 and report.cancelled == 1 and server.handler.messages == []
    assert _outbox(db, sub.id)[0].status == "cancelled"


@pytest.mark.parametrize("where", ["title", "authors", "site_name"])
def test_header_injection_through_content_fails(sqlite_db: Database, where: str) -> None:
    db = sqlite_db
    [pid] = add_papers(db, FRIDAY, 1)
    evil = "Nice\r\nBcc: victim@example.org\r\nX-Injected: yes"
    from paperfeed.store.schema import papers

    with db.write() as conn:
        if where == "title":
            conn.execute(papers.update().where(papers.c.id == pid).values(title=evil))
        elif where == "authors":
            conn.execute(papers.update().where(papers.c.id == pid).values(authors=[evil]))
    add_subscriber(db, "target@example.org")
    with SmtpServer() as server:
        settings = _settings(db, server.port)
        if where == "site_name":
            settings = settings.with_(site_name=evil)
        report = send.run(db, settings, now=NOW)
    assert report.send is not None and report.send.sent == 1
    [got] = server.handler.messages
    assert got.rcpt_tos == ["target@example.org"]
    msg = got.message
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]


def test_status_counts(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    add_papers(db, FRIDAY, 1)
    add_subscriber(db, "a@example.org")
    compose.compose_due(db, _settings(db, 1), now=NOW)
    counts = send.status(db)
    assert counts["outbox"]["pending"] == 1 and counts["subscriptions"] == {"active": 1}
    assert counts["mail_queue"]["pending"] == 0


def test_saved_search_section_uses_the_keyword_index(sqlite_db: Database, tmp_path: Path) -> None:
    from paperfeed.models import FeedEntry, Paper
    from paperfeed.search.sync import Layout, search_dir, sync_lexical
    from paperfeed.store import feed as store_feed
    from paperfeed.store import papers as store_papers

    db = sqlite_db
    add_papers(db, FRIDAY, 3)
    match = Paper(
        id="2411.09999",
        title="Video diffusion models at scale",
        abstract="A diffusion model for video generation.",
        authors=["Grace Hopper"],
        categories=["cs.CV"],
        published=datetime(2026, 11, 26),
        upvotes=1,
    )
    old = Paper(
        id="2001.00001",
        title="Early diffusion models",
        abstract="An old diffusion paper outside the window.",
        categories=["cs.CV"],
        published=datetime(2020, 1, 1),
    )
    with db.write() as conn:
        store_papers.upsert_papers(conn, [match, old])
        store_feed.add_entries(conn, [FeedEntry(match.id, FRIDAY)])
    settings = _settings(db, 1, data_dir=str(tmp_path / "data"))
    sync_lexical(db, Layout(search_dir(settings)), rebuild=True)
    sub = add_subscriber(db, "topics@example.org", sections=("searches",))
    with db.write() as conn:
        store_subs.update_preferences(
            conn,
            sub.id,
            frequency="daily",
            sections=["searches"],
            searches=[{"query": "diffusion", "filters": {"categories": ["cs.CV"]}}],
            timezone="UTC",
            hour=7,
        )
    report = compose.compose_due(db, settings, now=NOW)
    assert report.created == 1, report.notes
    [row] = _outbox(db, sub.id)
    [section] = row.content["sections"]
    assert section["key"] == "searches" and "diffusion" in section["title"]
    assert [i["id"] for i in section["items"]] == [match.id]


def test_rate_limit_spaces_sends(sqlite_db: Database) -> None:
    db = sqlite_db
    add_papers(db, FRIDAY, 1)
    for i in range(3):
        add_subscriber(db, f"r{i}@example.org")
    waits: list[float] = []
    with SmtpServer() as server:
        settings = _settings(db, server.port, digest_rate_per_minute=6)  # one per 10 s
        compose.compose_due(db, settings, now=NOW)
        report = send.send_pending(db, settings, sleep=waits.append)
    assert report.sent == 3
    # The first send goes at once; the k-th waits for its slot k × 10 s after the first (the
    # recorded sleeps do not pass real time, so the second slot is still ~20 s away).
    assert len(waits) == 2 and 5 < waits[0] <= 10 and 15 < waits[1] <= 20


def test_worker_runs_digests_on_schedule() -> None:
    from paperfeed.worker import JOBS, scheduled_jobs

    job = JOBS["send_digests"]
    assert job.schedule_setting == "schedule_digests"
    assert job in [j for j, _ in scheduled_jobs(Settings())]
    assert job not in [j for j, _ in scheduled_jobs(Settings(schedule_digests=""))]


def test_unsendable_message_fails_alone(sqlite_db: Database) -> None:
    db = sqlite_db
    add_papers(db, FRIDAY, 1)
    broken = add_subscriber(db, "broken@example.org")
    fine = add_subscriber(db, "fine@example.org")
    with SmtpServer() as server:
        settings = _settings(db, server.port)
        compose.compose_due(db, settings, now=NOW)
        with db.write() as conn:  # e.g. an address edited by hand into something unusable
            conn.execute(
                store_outbox.outbox.update()
                .where(store_outbox.outbox.c.subscription_id == broken.id)
                .values(to_addr="")
            )
        report = send.send_pending(db, settings)
    assert (report.sent, report.failed, report.paused) == (1, 1, False)
    assert _outbox(db, broken.id)[0].status == "failed"
    assert [m.rcpt_tos for m in server.handler.messages] == [[fine.email]]

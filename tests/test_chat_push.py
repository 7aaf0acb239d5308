"""Chat push delivery: real Apprise schemes to a loopback receiver, retries, crashes, and the SSRF rule."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from _chat_helpers import Receiver
from _digest_helpers import SmtpServer, smtp_settings, wait_for_queue
from conftest import ROOT

from paperfeed.config import Settings
from paperfeed.digest import chat, chat_target, postbox
from paperfeed.digest.render import text_message
from paperfeed.errors import InvalidInput
from paperfeed.store import Database, open_database
from paperfeed.store import chat as chat_store
from paperfeed.store import users as user_store
from paperfeed.store.schema import chat_outbox


def _settings(db: Database, **kw: object) -> Settings:
    base = Settings(database_url=db.url, chat_allow_private_targets=True, chat_retry_base=1.0)
    return base.with_(**kw)


def _member(db: Database, name: str = "ada") -> int:
    with db.write() as conn:
        return user_store.create_user(conn, f"{name}@example.org", name, verified=True).id


def _channel(db: Database, user_id: int, url: str, label: str = "chan") -> chat_store.Channel:
    with db.write() as conn:
        return chat_store.add_channel(conn, user_id, url, label)


def _alert(db: Database, user_id: int, key: str, title: str = "New paper") -> int:
    with db.write() as conn:
        return chat_store.enqueue_alert(
            conn, user_id, key, title, f"Body of {key}: Gödel, 数学", f"http://papers.test/p/{key}"
        )


def _rows(db: Database) -> list[dict[str, object]]:
    with db.read() as conn:
        q = chat_outbox.select().order_by(chat_outbox.c.id)
        return [dict(r._mapping) for r in conn.execute(q)]


def _make_due(db: Database) -> None:
    """Let time pass for the retry schedule: every pending alert is due now."""
    with db.write() as conn:
        conn.execute(
            chat_outbox.update()
            .where(chat_outbox.c.state == "pending")
            .values(next_attempt_at=chat_store._now() - timedelta(seconds=1))
        )


# --- delivery through Apprise's own schemes ----------------------------------------------------


def test_one_alert_reaches_every_channel_through_apprise_schemes(db: Database) -> None:
    with Receiver() as rx:
        ada = _member(db)
        for scheme, path in [("json", "/json"), ("ntfy", "/alerts"), ("form", "/form")]:
            _channel(db, ada, rx.url(scheme, path), scheme)
        _channel(db, ada, rx.url("xml", "/xml"), "xml")
        settings = _settings(db)
        assert _alert(db, ada, "2401.00001") == 4
        assert _alert(db, ada, "2401.00001") == 0  # the same match queued again: nothing added
        report = chat.deliver_due(db, settings)
        assert (report.sent, report.retried, report.failed) == (4, 0, 0)
        assert chat.deliver_due(db, settings).sent == 0  # nothing left: each sent once
        (j,) = rx.to("/json")
        assert j.json()["title"] == "New paper"
        assert j.json()["message"] == (
            "Body of 2401.00001: Gödel, 数学\nhttp://papers.test/p/2401.00001"
        )
        (n,) = [d for d in rx.deliveries if d.path == "/"]  # ntfy posts the topic in the body
        assert n.json()["topic"] == "alerts" and "Gödel" in n.json()["message"]
        (f,) = rx.to("/form")
        assert f.form()["title"] == "New paper" and "数学" in f.form()["message"]
        (x,) = rx.to("/xml")
        assert "<Subject>New paper</Subject>" in x.text() and "2401.00001" in x.text()
    assert {r["state"] for r in _rows(db)} == {"sent"}


def test_a_failing_endpoint_retries_with_backoff_then_shows_the_error(db: Database) -> None:
    with Receiver() as rx:
        rx.behaviour.status["/down"] = 500
        ada = _member(db)
        down = _channel(db, ada, rx.url("json", "/down"), "down")
        _channel(db, ada, rx.url("json", "/up"), "up")
        settings = _settings(db, chat_max_attempts=3, chat_retry_base=10.0)
        _alert(db, ada, "k1")
        first = chat.deliver_due(db, settings)
        assert (first.sent, first.retried) == (1, 1)  # the working channel is not held up
        waits = []
        for _ in range(2):
            (row,) = [r for r in _rows(db) if r["channel_id"] == down.id]
            assert row["state"] == "pending" and "500" in str(row["last_error"])
            waits.append((row["next_attempt_at"] - chat_store._now()).total_seconds())  # type: ignore[operator]
            assert chat.deliver_due(db, settings).sent == 0  # not due yet: no request
            _make_due(db)
            chat.deliver_due(db, settings)
        assert 8 < waits[0] <= 10 and 18 < waits[1] <= 20  # 10 s, then 20 s
        assert rx.hits.count("/down") == 3 and len(rx.to("/up")) == 1
        (row,) = [r for r in _rows(db) if r["channel_id"] == down.id]
        assert row["state"] == "failed" and row["attempts"] == 3
        with db.read() as conn:
            shown = chat_store.get_channel(conn, ada, down.id)
        assert shown is not None and "500" in str(shown.last_error)
        # The endpoint comes back: the next alert goes through and the error is cleared.
        rx.behaviour.status.clear()
        _alert(db, ada, "k2")
        assert chat.deliver_due(db, settings).sent == 2
        with db.read() as conn:
            shown = chat_store.get_channel(conn, ada, down.id)
        assert shown is not None and shown.last_error is None


# --- the SSRF rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hook",
        "jsons://localhost/hook",
        "json://[::1]:8080/hook",
        "json://[::ffff:127.0.0.1]/hook",
        "xml://10.0.0.5/hook",
        "form://192.168.1.1/hook",
        "ntfy://169.254.169.254/topic",
        "json://100.64.0.1/x",
        "json://[fe80::1]/x",
        "json://224.0.0.1/x",
        "json://0.0.0.0/x",
        "json://[fc00::1]/x",
    ],
)
def test_private_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidInput, match="non-public address"):
        chat_target.check(url, allow_private=False)
    assert chat_target.check(url, allow_private=True).own_host


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("windows://", "not a supported chat scheme"),
        ("macosx://", "not a supported chat scheme"),
        ("dbus://", "not a supported chat scheme"),
        ("mailto://user:pw@example.org", "not a supported chat scheme"),
        ("file:///etc/passwd", "not a supported chat scheme"),
        ("https://example.org/hook", "not a supported chat scheme"),
        ("no scheme at all", "not a supported chat scheme"),
        ("", "enter an Apprise URL"),
        ("json://", "not a valid json:// URL"),
        ("json://h.example/x?retry=50", r"remove \?retry="),
        ("json://" + "a" * 3000, "at most 2000"),
    ],
)
def test_unsupported_or_invalid_urls_get_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        chat_target.check(url, allow_private=True)


def test_address_classes() -> None:
    public = ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"]
    private = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254"]
    private += ["::1", "fe80::1%eth0", "ff02::1", "::ffff:10.0.0.1", "2002:7f00:1::1", "::"]
    private += ["100.64.0.1", "240.0.0.1", "192.0.2.1", "not an address"]
    assert [a for a in public if not chat_target.is_public(a)] == []
    assert [a for a in private if chat_target.is_public(a)] == []


def test_masked_urls_show_no_secret() -> None:
    assert chat_target.mask("slack://T1abc/B1abc/C1secretsecret") == "slack://…"
    assert chat_target.mask("ntfy://mytopic-secret") == "ntfy://…"
    masked = chat_target.mask("json://user:pw@hooks.example.org:8443/t0ken?+X-Key=abc")
    assert masked == "json://hooks.example.org:8443/…"
    assert (
        chat_target.mask("matrix://u:pw@matrix.example.org/#room")
        == "matrix://matrix.example.org/…"
    )


def test_a_target_refused_at_send_time_fails_at_once_without_a_request(db: Database) -> None:
    with Receiver() as rx:
        ada = _member(db)
        _channel(db, ada, rx.url("json", "/hook"))  # added while the admin allowed it
        _alert(db, ada, "k1")
        report = chat.deliver_due(db, _settings(db, chat_allow_private_targets=False))
        assert (report.sent, report.failed) == (0, 1) and rx.hits == []
    (row,) = _rows(db)
    assert row["state"] == "failed" and "non-public" in str(row["last_error"])


def test_connect_time_guard_refuses_a_name_that_turns_private(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if DNS answered a public address at the check and loopback at connect (rebinding).
    monkeypatch.setattr(chat_target, "refusal", lambda target: None)
    with Receiver() as rx:
        settings = _settings(db, chat_allow_private_targets=False)
        error, retry = chat.send(settings, rx.url("json", "/hook"), "t", "b")
        assert error is not None and "non-public" in error and rx.hits == []
        with chat_target.public_only():
            with pytest.raises(socket.gaierror, match="non-public"):
                socket.getaddrinfo("127.0.0.1", rx.port)
        assert socket.getaddrinfo("127.0.0.1", rx.port)  # outside a send nothing is filtered
        error, _ = chat.send(
            settings.with_(chat_allow_private_targets=True), rx.url("json", "/hook"), "t", "b"
        )
        assert error is None and len(rx.to("/hook")) == 1


# --- off the mail path --------------------------------------------------------------------------


def test_a_hanging_chat_endpoint_holds_up_no_email(db: Database) -> None:
    with Receiver() as rx, SmtpServer() as smtp:
        rx.behaviour.hold_marker = "hang"
        ada = _member(db)
        _channel(db, ada, rx.url("json", "/hook"))
        settings = smtp_settings(db, smtp.port, chat_allow_private_targets=True, chat_poll=0.2)
        _alert(db, ada, "hang")
        courier = chat.start(settings, db)
        try:
            assert rx.behaviour.held.wait(10)  # the chat sender is stuck on the endpoint
            postbox.post(settings, db, text_message(settings, "bob@example.org", "Sign in", "x\n"))
            wait_for_queue(db)
            assert len(smtp.handler.to("bob@example.org")) == 1
            assert rx.to("/hook") == []
        finally:
            rx.behaviour.release.set()
            courier.stop()


def test_serve_courier_sends_when_woken(db: Database) -> None:
    with Receiver() as rx:
        ada = _member(db)
        _channel(db, ada, rx.url("json", "/hook"))
        courier = chat.start(_settings(db, chat_poll=60.0), db)
        try:
            time.sleep(0.2)  # its first (empty) look is done; now it waits 60 s unless woken
            _alert(db, ada, "k1")
            assert chat.wake(db)
            deadline = time.monotonic() + 10
            while not rx.to("/hook") and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            courier.stop()
        assert len(rx.to("/hook")) == 1
    assert not chat.wake(db)  # stopped: the worker job sends instead


def test_worker_has_a_chat_job() -> None:
    from paperfeed.worker import JOBS, scheduled_jobs

    job = JOBS["send_chat"]
    assert job in [j for j, _ in scheduled_jobs(Settings())]
    assert job not in [j for j, _ in scheduled_jobs(Settings(schedule_chat=""))]


# --- crashes ------------------------------------------------------------------------------------

_DRAIN = "from paperfeed.config import Settings; from paperfeed.digest.chat import deliver_due; from paperfeed.store import open_database; s = Settings.from_env(); deliver_due(open_database(s.database_url), s)"


def _kill_mid_send(url: str, rx: Receiver) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_CHAT_ALLOW_PRIVATE_TARGETS="1",
        PAPERFEED_CHAT_LEASE="1",
    )
    proc = subprocess.Popen([sys.executable, "-c", _DRAIN], cwd=ROOT, env=env)
    try:
        assert rx.behaviour.held.wait(30), "the sender never reached the held alert"
        assert proc.poll() is None, "the sender ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)


def _three_alerts(db: Database, rx: Receiver) -> int:
    ada = _member(db)
    _channel(db, ada, rx.url("json", "/hook"))
    for key in ("a-first", "b-held", "c-last"):
        _alert(db, ada, key)
    return ada


def _keys(rx: Receiver) -> list[str]:
    return sorted(d.json()["message"].split(":")[0].removeprefix("Body of ") for d in rx.deliveries)


def test_sender_killed_before_the_endpoint_accepts_delivers_each_exactly_once(
    database_url: str,
) -> None:
    db = open_database(database_url)
    with Receiver() as rx:
        rx.behaviour.hold_marker = "b-held"  # the kill lands while the endpoint holds alert 2
        _three_alerts(db, rx)
        _kill_mid_send(db.url, rx)
        assert _keys(rx) == ["a-first"]
        assert [r["state"] for r in _rows(db)] == ["sent", "sending", "pending"]
        rx.behaviour.hold_marker = ""
        rx.behaviour.release.set()  # the held request is answered 503: it was never accepted
        time.sleep(1.2)  # the dead sender's lease runs out
        report = chat.deliver_due(db, _settings(db))
    assert report.sent == 2 and _keys(rx) == ["a-first", "b-held", "c-last"]
    assert [r["state"] for r in _rows(db)] == ["sent", "sent", "sent"]
    db.dispose()


def test_sender_killed_after_the_endpoint_accepted_resends_only_that_alert(
    database_url: str,
) -> None:
    # The documented window: the endpoint took alert 2, the sender died before marking it sent.
    db = open_database(database_url)
    with Receiver() as rx:
        rx.behaviour.hold_marker, rx.behaviour.hold_accepts = "b-held", True
        _three_alerts(db, rx)
        _kill_mid_send(db.url, rx)
        rx.behaviour.hold_marker = ""
        rx.behaviour.release.set()
        time.sleep(1.2)
        report = chat.deliver_due(db, _settings(db))
    assert report.sent == 2 and _keys(rx) == ["a-first", "b-held", "b-held", "c-last"]
    assert [r["state"] for r in _rows(db)] == ["sent", "sent", "sent"]
    db.dispose()

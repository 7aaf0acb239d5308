"""The mailers against a real SMTP server on loopback."""

from __future__ import annotations

import io
import time
from email import policy
from email.message import EmailMessage

import pytest
from _digest_helpers import RecordingHandler, SmtpServer, free_port

from paperfeed.config import Settings
from paperfeed.digest.mail import ConsoleMailer, SmtpMailer, make_mailer
from paperfeed.errors import (
    ConfigError,
    MailConnectionError,
    MailError,
    MailPermanentError,
    MailServerError,
    MailTemporaryError,
)


def _msg(to: str = "a@example.org", subject: str = "Hello") -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "paperfeed <noreply@example.org>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("body é")
    return msg


def test_make_mailer_picks_backend() -> None:
    assert isinstance(make_mailer(Settings()), ConsoleMailer)
    assert isinstance(make_mailer(Settings(mail_backend="smtp")), SmtpMailer)
    with pytest.raises(ConfigError, match="mail_backend"):
        make_mailer(Settings(mail_backend="pigeon"))
    with pytest.raises(ConfigError, match="smtp_security"):
        make_mailer(Settings(mail_backend="smtp", smtp_security="tls13"))


def test_console_mailer_prints_message() -> None:
    out = io.StringIO()
    msg = _msg(subject="Confirm")
    link = "https://papers.example.org/subscribe/confirm/" + "x" * 80
    msg.set_content(f"Open {link} to confirm.")
    msg.add_alternative("<p>html</p>", subtype="html")
    ConsoleMailer(out).send(msg)
    printed = out.getvalue()
    assert "Subject: Confirm" in printed
    assert link in printed  # decoded, on one line, not quoted-printable
    assert "<p>html</p>" not in printed


def test_smtp_mailer_delivers_and_reuses_connection() -> None:
    with SmtpServer() as server:
        settings = Settings(mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=server.port)
        mailer = make_mailer(settings)
        mailer.send(_msg("one@example.org"))
        with mailer:
            mailer.send(_msg("two@example.org"))
            mailer.send(_msg("three@example.org"))
    got = [m.rcpt_tos for m in server.handler.messages]
    assert got == [["one@example.org"], ["two@example.org"], ["three@example.org"]]
    assert server.handler.messages[0].message["Subject"] == "Hello"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.1.1 no such user", MailPermanentError),
        ("451 4.3.0 try later", MailTemporaryError),
        ("450 4.2.1 mailbox busy", MailTemporaryError),
        ("552 5.2.2 over quota", MailTemporaryError),  # RFC 5321 4.5.3.1.10: 552 to RCPT is 452
        ("553 mailbox name not allowed", MailPermanentError),
        ("550 5.7.1 relaying denied", MailServerError),  # policy: nobody's address is to blame
        ("421 4.3.2 closing", MailServerError),
    ],
)
def test_smtp_replies_map_to_errors(reply: str, error: type[MailError]) -> None:
    handler = RecordingHandler(rcpt_replies={"bad@example.org": reply})
    with SmtpServer(handler) as server:
        mailer = SmtpMailer("127.0.0.1", server.port)
        with mailer:
            with pytest.raises(error) as info:
                mailer.send(_msg("bad@example.org"))
            # The batch goes on after a refused recipient, even when 421 closed the connection.
            mailer.send(_msg("good@example.org"))
    if isinstance(info.value, MailPermanentError):
        assert info.value.recipient == "bad@example.org"
        assert info.value.code == int(reply[:3])
    assert [m.rcpt_tos for m in handler.messages] == [["good@example.org"]]


def test_a_connection_the_server_closed_while_idle_is_reopened() -> None:
    # A batch spaced by digest_rate_per_minute outlives the server's idle timeout: that paused
    # the whole run as "connection lost"; the mailer now opens a new connection once.
    with SmtpServer(idle_timeout=0.3) as server:
        mailer = SmtpMailer("127.0.0.1", server.port)
        with mailer:
            mailer.send(_msg("one@example.org"))
            time.sleep(1.0)
            mailer.send(_msg("two@example.org"))
    assert [m.rcpt_tos for m in server.handler.messages] == [
        ["one@example.org"],
        ["two@example.org"],
    ]


def test_connection_refused_is_connection_error() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), timeout=5)
    with pytest.raises(MailConnectionError, match="smtp_host"):
        mailer.send(_msg())


def test_header_injection_refused() -> None:
    with pytest.raises(ValueError):
        _msg(subject="hi\r\nBcc: victim@example.org")
    msg = _msg()
    # A header smuggled past the policy (compat32 style) is still caught before sending.
    msg._headers.append(("X-Evil", "a\r\nBcc: victim@example.org"))  # type: ignore[attr-defined]
    with SmtpServer() as server:
        with pytest.raises(MailError, match="line break"):
            SmtpMailer("127.0.0.1", server.port).send(msg)
    assert server.handler.messages == []

"""Every kind of message paperfeed sends, as aiosmtpd received it, is well-formed RFC 5322/2045 mail."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from _community_helpers import PASSWORD, community_site, csrf, sign_up
from _digest_helpers import Received, add_papers, add_subscriber

from paperfeed.digest import send
from paperfeed.store import Database

FRIDAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 8, 0)
MESSAGE_ID = re.compile(r"<[^<>@\s]+@testserver>")  # the domain of base_url


def _check_headers(got: Received) -> EmailMessage:
    msg = got.message
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert len(msg.get_all(name, [])) == 1, f"{name} missing or repeated in {msg['Subject']}"
    assert msg["MIME-Version"] == "1.0"
    assert MESSAGE_ID.fullmatch(msg["Message-ID"]), msg["Message-ID"]
    sent = msg["Date"].datetime
    assert sent.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=10)
    assert msg["To"] == got.rcpt_tos[0]
    for part in msg.walk():
        assert not part.defects, (msg["Subject"], part.defects)
    return msg


def _check_alternative(msg: EmailMessage) -> None:
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for p in parts:
        assert p.get_content_charset() == "utf-8" and p.get_content().strip()
        assert "MIME-Version" not in p  # only the top level carries it


def _check_plain(msg: EmailMessage) -> None:
    assert msg.get_content_type() == "text/plain" and not msg.is_multipart()
    assert msg.get_content_charset() == "utf-8"
    assert "http://testserver/" in msg.get_content()


def test_every_kind_of_message_carries_date_message_id_and_mime_version(
    db: Database, tmp_path: Path
) -> None:
    with community_site(db, tmp_path) as site:
        client = site.client()  # waits for the background sender after each request
        # 1. sign-up verification
        sign_up(site, client, "ada@example.org", "Ada")
        # 2. a sign-up with an address that has an account: the owner gets a sign-in link
        other = site.client()
        other.post(
            "/signup",
            data={
                "csrf_token": csrf(other, "/signup"),
                "email": "ada@example.org",
                "display_name": "Impostor",
            },
        )
        # 3. a sign-in link
        other.post("/login/link", data={"csrf_token": csrf(other), "email": "ada@example.org"})
        # 4. an email change
        client.post(
            "/settings",
            data={
                "csrf_token": csrf(client, "/settings"),
                "action": "email",
                "email": "n@x.org",
                "current_password": PASSWORD,
            },
        )
        # 5. the digest subscription's double opt-in confirmation
        page = other.get("/").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        data = {"email": "reader@example.org"}
        if token:
            data["csrf_token"] = token.group(1)
        assert other.post("/subscribe", data=data).status_code == 200
        confirmation = site.smtp.wait_to("reader@example.org")
        # 6. a digest
        add_papers(db, FRIDAY, 2)
        add_subscriber(db, "digest@example.org")
        report = send.run(db, site.settings, now=NOW).send
        assert report is not None and report.sent == 1

        account = site.smtp.handler.to("ada@example.org")
        # verification, "you already have an account", sign-in link, the old address's notice
        assert len(account) == 4
        changed = site.smtp.handler.to("n@x.org")
        [digest] = site.smtp.handler.to("digest@example.org")
        everything = [*account, *changed, *confirmation, digest]
        assert len(everything) == 7
        for got in [*account, *changed]:
            _check_plain(_check_headers(got))
        for got in [*confirmation, digest]:
            _check_alternative(_check_headers(got))
        ids = {got.message["Message-ID"] for got in everything}
        assert len(ids) == 7  # unique per message


def test_a_digest_is_a_mime_message(db: Database, tmp_path: Path) -> None:
    with community_site(db, tmp_path) as site:
        add_papers(db, FRIDAY, 2)
        add_subscriber(db, "digest@example.org")
        report = send.run(db, site.settings, now=NOW).send
        assert report is not None and report.sent == 1
        [digest] = site.smtp.handler.to("digest@example.org")
    msg = _check_headers(digest)  # MIME-Version was missing: make_alternative() adds none
    _check_alternative(msg)

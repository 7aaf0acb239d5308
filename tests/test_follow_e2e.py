"""Issue #14 end to end in Chromium: follow an author and a search, harvest, every channel once, SIGKILL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from _chat_helpers import Receiver
from _digest_helpers import RecordingHandler, SmtpServer
from _harvest_helpers import HF_DIR, Reply, Request, Upstream, settings_for
from _pages_helpers import PASSWORD, browser_sign_in
from _web_helpers import serve
from conftest import ROOT

from paperfeed.digest import chat
from paperfeed.digest.compose import compose_due
from paperfeed.digest.send import send_pending
from paperfeed.harvest import harvest
from paperfeed.normalize import author_slug
from paperfeed.search.sync import run_index
from paperfeed.store import Database
from paperfeed.store import chat as chat_store
from paperfeed.store import outbox as store_outbox
from paperfeed.store import subscriptions as store_subs
from paperfeed.store import users as store_users
from paperfeed.web import auth, create_app

pytestmark = pytest.mark.browser

EMAIL = "ada@example.org"
OLD_DAY, NEW_DAY = "2025-09-10", "2026-08-21"  # Chengsong Huang has a paper on both days
AUTHOR = "Chengsong Huang"
BY_AUTHOR = ("2608.19880", "EnvHarness")  # new on NEW_DAY, by AUTHOR
BY_SEARCH = ("2608.20335", "4DAnyone")  # new on NEW_DAY, the only paper with this word
_CHAT_DRAIN = (
    "from paperfeed.config import Settings; from paperfeed.digest.chat import deliver_due; "
    "from paperfeed.store import open_database; s = Settings.from_env(); "
    "deliver_due(open_database(s.database_url), s)"
)
_MAIL_DRAIN = (
    "from paperfeed.config import Settings; from paperfeed.digest.send import send_pending; "
    "from paperfeed.store import open_database; s = Settings.from_env(); "
    "send_pending(open_database(s.database_url), s)"
)


def _hf_days(req: Request) -> Reply:
    """The recorded Hugging Face daily-papers answer of the requested day."""
    path = HF_DIR / f"{req.params.get('date')}.json"
    body = path.read_bytes() if path.exists() else b"[]"
    return Reply(body, content_type="application/json")


def _killed_mid_delivery(code: str, env: dict[str, str], reached: Any) -> None:
    """Run a sender in a subprocess and SIGKILL it once `reached()` says it is mid-delivery."""
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while not reached() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert reached() and proc.poll() is None, "the sender was not caught mid-delivery"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_follow_harvest_and_every_channel_exactly_once(
    browser: Any, sqlite_db: Database, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    db = sqlite_db
    upstream = Upstream()
    upstream.app = _hf_days
    handler = RecordingHandler()
    with Receiver() as rx, SmtpServer(handler) as smtp:
        settings = settings_for(
            upstream,
            db.url,
            data_dir=str(tmp_path / "data"),
            base_url="http://testserver",
            embed_model="hash:64",
            chat_allow_private_targets=True,
            chat_lease=1.0,
            mail_backend="smtp",
            mail_from="paperfeed <noreply@papers.example.org>",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_timeout=10,
            digest_sending_lease=0,
        )
        harvest(settings, db, "hf", from_=OLD_DAY, until=OLD_DAY)  # the author is known here
        run_index(db, settings, embed=False)  # the search page searches the index
        with db.write() as conn:
            ada = store_users.create_user(
                conn, EMAIL, "Ada", password_hash=auth.hash_password(PASSWORD), verified=True
            )
            chat_store.add_channel(conn, ada.id, rx.url("json", "/hook"), "lab chat")
            store_subs.subscribe_member(
                conn,
                ada.id,
                EMAIL,
                unsubscribe_token="u" * 24,
                frequency="daily",
                sections=["follows"],
                timezone="UTC",
                hour=0,
            )

        # In the browser: sign in, follow the author and the search by clicking.
        with serve(create_app(settings, db)) as base:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            browser_sign_in(page, base, EMAIL)
            page.goto(f"{base}/authors/{author_slug(AUTHOR)}")
            page.get_by_role("button", name=f"Follow {AUTHOR}").click()
            expect(page.get_by_role("button", name=f"Unfollow {AUTHOR}")).to_be_visible()
            page.goto(f"{base}/search?q={BY_SEARCH[1]}")
            page.get_by_role("button", name="Follow this search").click()
            expect(page.get_by_role("button", name="Unfollow this search")).to_be_visible()

            # A harvest of the next recorded day runs the matcher on what it stored.
            result = harvest(settings, db, "hf", from_=NEW_DAY, until=NEW_DAY)
            assert result.counts.new > 2

            page.goto(base + "/notifications")
            notes = page.locator("li.notification")
            expect(notes).to_have_count(2)
            for pid, word in (BY_AUTHOR, BY_SEARCH):
                link = notes.filter(has_text=word).get_by_role("link")
                expect(link).to_have_attribute("href", re.compile(re.escape(pid) + "$"))
            expect(page.get_by_role("link", name=re.compile("Notifications"))).to_contain_text("2")

            page.goto(base + "/settings/follows")
            href = page.locator("a[href*='/feeds/follows.atom']").first.get_attribute("href")
            assert href
            got = httpx.get(base + href if href.startswith("/") else href)  # no cookie
            assert got.status_code == 200
            feed = feedparser.parse(got.content)
            assert not feed.bozo
            assert sorted(e.link.rsplit("/", 1)[-1] for e in feed.entries) == sorted(
                [BY_AUTHOR[0], BY_SEARCH[0]]
            )
            assert errors == []
            page.close()

        # Chat: the sender is killed while the endpoint holds the first alert (not accepted).
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
        env.update(
            PAPERFEED_DATABASE_URL=db.url,
            PAPERFEED_CHAT_ALLOW_PRIVATE_TARGETS="1",
            PAPERFEED_CHAT_LEASE="1",
            PAPERFEED_MAIL_BACKEND="smtp",
            PAPERFEED_SMTP_HOST="127.0.0.1",
            PAPERFEED_SMTP_PORT=str(smtp.port),
            PAPERFEED_BASE_URL="http://testserver",
        )
        rx.behaviour.hold_marker = "http"  # every alert carries its link: the first one waits
        _killed_mid_delivery(_CHAT_DRAIN, env, rx.behaviour.held.is_set)
        assert rx.deliveries == []
        rx.behaviour.hold_marker = ""
        rx.behaviour.release.set()  # the held request is answered 503: never accepted
        time.sleep(1.2)  # the dead sender's lease runs out
        assert chat.deliver_due(db, settings).sent == 2
        assert chat.deliver_due(db, settings).sent == 0
        bodies = [d.text() for d in rx.to("/hook")]
        assert len(bodies) == 2
        for _, word in (BY_AUTHOR, BY_SEARCH):
            assert sum(word in b for b in bodies) == 1

        # Digest: one email with both, the first sender killed before the server took it.
        now = datetime.now().replace(microsecond=0)
        assert compose_due(db, settings, now=now + timedelta(days=3)).created == 1
        handler.rcpt_delay = 3.0
        _killed_mid_delivery(_MAIL_DRAIN, env, lambda: handler.calls.get("RCPT", 0) > 0)
        assert handler.messages == []
        handler.rcpt_delay = 0.0
        assert send_pending(db, settings).sent == 1
        assert send_pending(db, settings).sent == 0
        assert compose_due(db, settings, now=now + timedelta(days=4)).created == 0
        mails = handler.to(EMAIL)
        assert len(mails) == 1
        plain = mails[0].message.get_body(("plain",))
        assert plain is not None
        text = plain.get_content()
        assert BY_AUTHOR[1] in text and BY_SEARCH[1] in text
        with db.read() as conn:
            counts = store_outbox.status_counts(conn)
        assert counts["sent"] == 1 and counts["pending"] == counts["sending"] == 0
    upstream.close()

"""Real Chromium: sign up, confirm by email, submit, upvote without reload, comment, trending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _community_helpers import PASSWORD, community_site, mailed_link
from _web_helpers import serve

from paperfeed.models import Paper
from paperfeed.ranking.trending import rank
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.web import create_app

pytestmark = pytest.mark.browser


def test_member_journey_in_chromium(browser: Any, sqlite_db: Database, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    published = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
    with sqlite_db.write() as conn:
        paper_store.upsert_papers(
            conn,
            [
                Paper(
                    id="2611.04242",
                    title="Browsers Are Real Users Too",
                    abstract="We click buttons.",
                    authors=["Grace Hopper"],
                    categories=["cs.HC"],
                    published=published,
                )
            ],
        )
    with community_site(sqlite_db, tmp_path) as site:
        app = create_app(site.settings, sqlite_db)
        with serve(app) as base:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(base + "/")
            page.get_by_role("link", name="Sign up").click()
            page.get_by_label("Email", exact=True).fill("grace@example.org")
            page.get_by_label("Display name").fill("Grace <b>H</b>")
            page.get_by_role("button", name="Sign up").click()
            expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

            link = mailed_link(site.smtp, "grace@example.org")
            page.goto(link.replace(site.settings.base_url, base))
            page.get_by_label("Password").fill(PASSWORD)  # chosen by whoever reads the mailbox
            page.get_by_role("button", name="Confirm and sign in").click()
            expect(page.get_by_role("status")).to_contain_text("Your email address is confirmed")
            expect(page.get_by_role("link", name="Grace <b>H</b>")).to_be_visible()

            page.get_by_role("link", name="Submit").click()
            page.get_by_label("arXiv id or link").fill("https://arxiv.org/pdf/2611.04242v1.pdf")
            page.get_by_role("button", name="Submit").click()
            expect(page.get_by_role("status")).to_contain_text("The paper is on today's feed")
            expect(page.get_by_role("heading", level=1)).to_have_text("Browsers Are Real Users Too")

            # Upvote without a reload: a marker set on this document must survive the click.
            page.evaluate("window.__noReload = 42")
            vote = page.locator("form.vote-form button").first
            expect(vote).to_have_attribute("aria-pressed", "false")
            vote.click()
            expect(vote).to_have_attribute("aria-pressed", "true")
            expect(page.locator("form.vote-form .votes-count").first).to_have_text("1")
            assert page.evaluate("window.__noReload") == 42

            page.get_by_label("Add a comment").fill(
                "<script>alert('xss')</script> Code: https://github.com/example/browsers"
            )
            page.get_by_role("button", name="Post comment").click()
            comment = page.locator(".comment").first
            expect(comment).to_contain_text("<script>alert('xss')</script>")
            expect(
                comment.get_by_role("link", name="https://github.com/example/browsers")
            ).to_be_visible()
            expect(comment.locator(".comment-author")).to_have_text("Grace <b>H</b>")

            # After a reload the vote is still there (it was stored, not only drawn).
            page.reload()
            expect(page.locator("form.vote-form button").first).to_have_attribute(
                "aria-pressed", "true"
            )

            assert rank(sqlite_db, site.settings) == 1
            page.get_by_role("link", name="Trending").click()
            expect(page.get_by_role("heading", name="Trending now")).to_be_visible()
            expect(page.locator(".card-title").first).to_have_text("Browsers Are Real Users Too")
            expect(page.locator(".why-trending").first).to_contain_text("1 vote in the last 24 h")
            assert dialogs == [] and errors == []
            page.close()

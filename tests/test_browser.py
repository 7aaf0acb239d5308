"""What a reader sees in real headless Chromium: the feed, day navigation and a paper page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _web_helpers import HOSTILE_TITLE, seed, serve

from paperfeed.config import Settings
from paperfeed.store import Database
from paperfeed.web import create_app

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def site(sqlite_db: Database) -> Iterator[str]:
    """A seeded paperfeed served by uvicorn on loopback."""
    seed(sqlite_db)
    with serve(create_app(Settings(database_url=sqlite_db.url), sqlite_db)) as base:
        yield base


def test_reader_browses_days_and_opens_a_paper(browser: Any, site: str) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(site + "/")
    expect(page.locator("h1")).to_have_text("Jul 1, 2024")
    expect(page.locator(".card-title")).to_have_text(["Agents in the Wild"])
    expect(page.get_by_role("button", name="Subscribe")).to_be_visible()
    expect(page.get_by_role("searchbox", name="Search papers")).to_be_visible()

    page.get_by_role("link", name="Previous day").click()
    expect(page).to_have_url(site + "/papers/date/2024-06-03")
    expect(page.locator(".card-title")).to_have_text(
        ["Benchmarks Considered Harmful", "Small Language Models Win"]
    )
    page.get_by_role("link", name="Previous day").click()
    expect(page).to_have_url(site + "/papers/date/2024-05-29")
    titles = page.locator(".card-title")
    expect(titles).to_have_count(4)
    # The hostile title is shown as text on the list and no script ran.
    expect(titles.nth(2)).to_have_text(HOSTILE_TITLE)
    # Upvote badges are in descending order.
    counts = [int(x) for x in page.locator(".card .votes-count").all_inner_texts()]
    assert counts == [25, 7, 3, 1]
    page.screenshot(path=str(ARTIFACTS / "browser-day.png"), full_page=True)

    page.get_by_role("link", name=re.compile("^Black holes of")).click()
    expect(page).to_have_url(site + "/papers/2405.00003")
    heading = page.locator("h1#paper-title")
    expect(heading).to_contain_text("Black holes of")
    # The formula is real MathML laid out by the browser, not LaTeX source.
    formula = heading.locator("math")
    expect(formula).to_have_count(2)
    box = formula.first.bounding_box()
    assert box is not None and box["width"] > 10
    assert "\\odot" not in heading.inner_text()
    expect(page.locator(".author-list li")).to_have_text(
        ["Author 2 A", "Author 2 B", "Ada Lovelace"]
    )
    expect(page.locator(".paper .votes-count")).to_have_text("7")
    abstract = page.locator(".abstract")
    expect(abstract).to_contain_text("an escaped $5 bill")
    expect(abstract).to_contain_text("<i>markup</i>")
    expect(abstract.locator("math").first).to_be_visible()
    expect(page.get_by_role("link", name="PDF")).to_have_attribute(
        "href", "https://arxiv.org/pdf/2405.00003"
    )
    page.screenshot(path=str(ARTIFACTS / "browser-paper.png"), full_page=True)

    page.goto(site + "/papers/2405.00004")
    expect(page.locator("h1#paper-title")).to_have_text(HOSTILE_TITLE)
    page.goto(site + "/papers/not-a-paper")
    expect(page.locator("h1")).to_have_text("Not found")
    assert dialogs == [] and errors == []


def test_small_screen_layout(browser: Any, site: str) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.goto(site + "/papers/date/2024-05-29")
    # Nothing overflows sideways on a phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-mobile.png"), full_page=True)


def test_basic_accessibility(browser: Any, site: str) -> None:
    """Keyboard users get a skip link; every page has one h1, a language and labelled controls."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    for path in ("/", "/papers/date/2024-05-29", "/papers/2405.00003", "/papers/nope"):
        page.goto(site + path)
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("h1").count() == 1, path
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.outerHTML)"""
        )
        assert unlabelled == [], (path, unlabelled)
        assert page.locator("main#main").count() == 1
    page.goto(site + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to content"


PHONE = {"width": 390, "height": 844}


def test_phone_header_is_short_and_more_than_one_card_fits(browser: Any, site: str) -> None:
    """On a 390×844 phone the sticky header stays under 80 px (it was 194 px, 23% of the screen)."""
    page = browser.new_page(viewport=PHONE)
    for path in ("/papers/date/2024-05-29", "/search?q=abstract", "/papers/trending"):
        page.goto(site + path)
        header = page.locator(".site-header").bounding_box()
        assert header is not None and header["height"] < 80, (path, header)
        assert (
            page.evaluate("getComputedStyle(document.querySelector('.site-header')).position")
            == "sticky"
        )
    page.goto(site + "/papers/date/2024-05-29")
    page.mouse.wheel(0, 500)
    page.wait_for_function("window.scrollY > 400")
    # While scrolling the header stays, and the viewport below it shows more than one card.
    header = page.locator(".site-header").bounding_box()
    assert header is not None and header["y"] == 0
    tops = page.evaluate(
        "[...document.querySelectorAll('.card')].map(c => c.getBoundingClientRect().top)"
    )
    assert sum(1 for t in tops if header["height"] <= t < PHONE["height"]) >= 1
    page.goto(site + "/papers/date/2024-05-29")
    tops = page.evaluate(
        "[...document.querySelectorAll('.card')].map(c => c.getBoundingClientRect().top)"
    )
    assert sorted(tops)[1] < PHONE["height"], "a second card starts on the first screen"


def test_day_picker_works_without_javascript(browser: Any, site: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site + "/papers/date/2024-05-29")
    page.get_by_label("Go to day").fill("2024-06-03")
    page.get_by_role("button", name="Go", exact=True).click()
    assert page.url == site + "/papers/date/2024-06-03"
    assert page.locator("h1").inner_text() == "Jun 3, 2024"
    context.close()


def test_tab_title_is_plain_text_and_the_site_has_a_favicon(browser: Any, site: str) -> None:
    page = browser.new_page()
    page.goto(site + "/papers/2405.00003")
    # The tab reads Unicode math, never LaTeX source such as $10^9\,M_\odot$.
    assert page.title() == "Black holes of 10⁹ M_⊙ at z>6 – paperfeed"
    og = page.locator('meta[property="og:title"]').get_attribute("content")
    assert og == page.title()
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon and page.request.get(site + icon).headers["content-type"] == "image/svg+xml"
    ico = page.request.get(site + "/favicon.ico")
    assert ico.ok and ico.headers["content-type"] == "image/svg+xml"


def test_week_page_shows_its_date_range(browser: Any, site: str) -> None:
    page = browser.new_page()
    page.goto(site + "/papers/week/2024-W22")
    assert page.locator(".date-range").inner_text() == "May 27 – Jun 2, 2024"


def test_cast_upvote_looks_cast(browser: Any, tmp_path: Path) -> None:
    """A cast vote is filled (box and arrow) and aria-pressed, not only a different text colour."""
    from _pages_helpers import MEMBER, browser_sign_in, pages_site

    with pages_site(tmp_path) as pages, serve(create_app(pages.settings, pages.db)) as base:
        page = browser.new_page()
        browser_sign_in(page, base, MEMBER)
        page.goto(base + "/papers/date/2024-05-29")
        style = """b => {
            const box = getComputedStyle(b.closest('.votes')), arrow = b.querySelector('svg path');
            return [b.getAttribute('aria-pressed'), box.backgroundColor, getComputedStyle(arrow).fill];
        }"""
        cast = page.locator(".card", has_text="Diffusion Models").locator(".vote-button")
        other = page.locator(".card", has_text="Old-Style Paper").locator(".vote-button")
        pressed, cast_bg, cast_fill = cast.evaluate(style)
        unpressed, other_bg, other_fill = other.evaluate(style)
        assert (pressed, unpressed) == ("true", "false")
        assert cast_bg != other_bg and cast_fill != "none" and other_fill == "none"
        # Voting through vote.js (no reload) gives the same filled look.
        other.click()
        page.wait_for_function(
            "() => document.querySelectorAll('.vote-button[aria-pressed=true]').length == 2"
        )
        assert other.evaluate(style)[1:] == [cast_bg, cast_fill]

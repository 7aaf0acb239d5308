"""Every page type passes axe-core's WCAG 2 A/AA rules in real Chromium, signed out and in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _pages_helpers import AXE_JS, MISSING_NPM, WHO, browser_sign_in, pages_site
from _web_helpers import serve

from paperfeed.web import create_app

pytestmark = pytest.mark.browser

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# A page, axe injected and run, costs about a second on 2 cores: signed in, the shared pages differ
# only by the card controls and the nav, so a sample of them is checked; dark mode changes colours
# only, so a page of each layout is enough there.
MEMBER_SHARED = {"/", "/papers/2405.00003", "/search?q=attention", "/papers/trending"}
DARK_SAMPLE = {
    "/",
    "/papers/week/2024-W22",
    "/papers/2405.00003",
    "/search?q=attention",
    "/settings",
    "/login",
    "/admin/status",
    "/papers/not-a-paper",
}


def _violations(page: Any) -> list[str]:
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(f"{n['target']} {n.get('failureSummary', '')[:160]!r}" for n in v["nodes"][:3])
        for v in result["violations"]
    ]


def test_every_page_passes_axe(browser: Any, tmp_path: Path) -> None:
    if not AXE_JS.exists():
        pytest.fail(MISSING_NPM.format("axe-core"))
    axe = AXE_JS.read_text()
    problems: list[str] = []
    with pages_site(tmp_path) as site, serve(create_app(site.settings, site.db)) as base:
        pages = site.pages()
        for who, email in WHO.items():
            # Light on a phone for every page, dark on a desktop for a sample: both reach 4.5:1.
            for scheme, viewport in (("light", PHONE), ("dark", DESKTOP)):
                # The CSP forbids inline scripts, which is how axe gets into the page.
                context = browser.new_context(
                    viewport=viewport, color_scheme=scheme, bypass_csp=True
                )
                page = context.new_page()
                if email:
                    browser_sign_in(page, base, email)
                for p in pages:
                    if p.who != who or (scheme == "dark" and p.path not in DARK_SAMPLE):
                        continue
                    if who != "visitor" and p.shared and p.path not in MEMBER_SHARED:
                        continue
                    page.goto(base + p.path)
                    page.add_script_tag(content=axe)
                    problems += [f"{who} {scheme} {p.path}: {v}" for v in _violations(page)]
                context.close()
    assert problems == [], "\n".join(problems)

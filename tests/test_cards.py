"""Paper cards say what Hugging Face's do: submitter, comments, stars, keywords, authors, dates."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from _pages_helpers import pages_site, signed_in_client

from paperfeed.web.context import date_range, templates
from paperfeed.web.mathtext import plain, render_snippet


def test_feed_cards_carry_submitter_comments_stars_keywords_and_author_links(
    tmp_path: Path,
) -> None:
    with pages_site(tmp_path) as site:
        client = signed_in_client(site, None)
        html = client.get("/papers/date/2024-05-27").text
        card = html[html.index("Scaling Laws Revisited") - 1500 :]
        card = card[: card.index("</article>")]
        assert 'Submitted by <span class="submitter">akhaliq</span>' in card
        # GitHub stars come from the latest signal (one batched look-up for the page).
        assert 'Code <span aria-hidden="true">★</span> 321' in card
        assert re.search(r'href="/papers/2405\.00002#comments-h">.*0<span', card, re.S)
        # AI keywords link to searches, authors to their author pages.
        assert 'href="/search?q=%22scaling+laws%22">scaling laws</a>' in card
        assert 'href="/authors/ada-lovelace">Ada Lovelace</a>' in card
        # Comment counts follow the member comments (the seeded comment on 2405.00003).
        day = client.get("/papers/date/2024-05-29").text
        assert re.search(r'href="/papers/2405\.00003#comments-h">.*?1<span', day, re.S)


def test_week_and_month_pages_show_their_date_range(tmp_path: Path) -> None:
    with pages_site(tmp_path) as site:
        client = signed_in_client(site, None)
        week = client.get("/papers/week/2024-W22").text
        assert (
            '<time datetime="2024-05-27">May 27</time> – <time datetime="2024-06-02">Jun 2, 2024</time>'
            in week
        )
        month = client.get("/papers/month/2024-05").text
        assert '<span class="date-range"><time datetime="2024-05-01">May 1</time>' in month
    assert "Dec 30, 2024</time> – " in str(date_range(*_dates("2024-12-30", "2025-01-05")))


def _dates(a: str, b: str) -> tuple[object, object]:
    from datetime import date

    return date.fromisoformat(a), date.fromisoformat(b)


def test_day_picker_route_redirects_and_refuses_bad_dates(tmp_path: Path) -> None:
    with pages_site(tmp_path) as site:
        client = signed_in_client(site, None)
        r = client.get("/papers/date?day=2024-06-03", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/papers/date/2024-06-03"
        assert client.get("/papers/date?day=", follow_redirects=False).headers["location"] == "/"
        bad = client.get("/papers/date?day=2024-13-45")
        assert bad.status_code == 400 and "expected YYYY-MM-DD" in bad.text
        assert (
            '<input id="day-pick" type="date" name="day" value="2024-05-29"'
            in client.get("/papers/date/2024-05-29").text
        )


def test_organization_chip_is_shown_when_present_and_absent_safe() -> None:
    """Organizations are stored by another feature: the card reads the attribute defensively."""
    card = templates.env.get_template("_paper_card.html")
    paper = SimpleNamespace(
        id="2405.00002",
        title="T",
        abstract="A",
        authors=[],
        ai_keywords=[],
        abs_url="https://arxiv.org/abs/2405.00002",
        primary_category=None,
        github_repo=None,
        num_comments=0,
        upvotes=1,
        published=None,
        organization=SimpleNamespace(
            name="acme", fullname="ACME Research", avatar="https://x/a.png"
        ),
    )
    ctx = {
        "p": paper,
        "rank": 1,
        "path_for": lambda name, **kw: "/x",
        "search_url": lambda q: "/search",
        "stars_of": lambda pid: None,
    }
    html = card.render(**ctx)
    assert '<span class="org"><img src="https://x/a.png" alt=""' in html and "ACME Research" in html
    del paper.organization
    assert 'class="org"' not in card.render(**ctx)


def test_titles_are_plain_text_without_latex() -> None:
    assert plain(r"BayeSN $\times$ Dovekie") == "BayeSN × Dovekie"
    assert plain(r"Black holes of $10^9\,M_\odot$ at $z>6$") == "Black holes of 10⁹ M_⊙ at z>6"
    assert plain(r"$\mathcal{O}(n^2)$ sorting at ~20\% cost") == "𝒪(n²) sorting at ~20% cost"
    assert plain(r"an unclosed $x^{ formula") == r"an unclosed $x^{ formula"


def test_snippets_start_with_an_ellipsis_only_when_cut() -> None:
    abstract = "We find quasars early. They are bright and far away."
    assert str(render_snippet("We find <mark>quasars</mark> early.", abstract)) == (
        "We find <mark>quasars</mark> early.…"
    )
    assert str(render_snippet("They are <mark>bright</mark> and far away.", abstract)) == (
        "…They are <mark>bright</mark> and far away."
    )
    assert str(render_snippet("<mark>quasars</mark> early. They", abstract)).count("…") == 2
    whole = render_snippet("We find quasars early. They are bright and far away.", abstract)
    assert "…" not in str(whole)

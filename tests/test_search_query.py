"""The query parser: filters and phrases parse as documented; hostile strings never escape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from _search_helpers import load, settings_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperfeed.search import QueryError, parse, search
from paperfeed.search.sync import run_index
from paperfeed.store import Database, open_database


def test_free_text_phrases_and_exclusions() -> None:
    q = parse('Diffusion "video generation" -astro -"dark matter" GPT-4')
    assert q.words == ("diffusion",)
    assert q.phrases == (("video", "generation"), ("gpt", "4"))
    assert q.excluded == (("astro",), ("dark", "matter"))
    assert q.text == "diffusion video generation gpt 4"


def test_filters() -> None:
    q = parse('attention cat:cs.CL author:"Yann LeCun" year:2025')
    assert q.words == ("attention",)
    assert q.categories == ("cs.cl",)
    assert q.authors == (("yann", "lecun"),)
    assert (q.date_from, q.date_to) == (date(2025, 1, 1), date(2025, 12, 31))


def test_date_ranges_and_archive() -> None:
    q = parse("from:2024-02 to:2025-03-15 cat:cs date:2020..2025-06")
    assert q.date_from == date(2024, 2, 1)
    assert q.date_to == date(2025, 3, 15)
    assert q.categories == ("cs",)
    assert parse("year:2020..").date_to == date(9999, 12, 31)


def test_arxiv_ids_and_urls_are_recognised() -> None:
    for text in (
        "2401.00001",
        " https://arxiv.org/abs/2401.00001v3 ",
        "arxiv.org/pdf/2401.00001.pdf",
        "arXiv:2401.00001",
        "hep-th/9901001v2",
    ):
        assert parse(text).arxiv_id in {"2401.00001", "hep-th/9901001"}, text
    assert parse("2401.00001 attention").arxiv_id is None


@pytest.mark.parametrize(
    "text", ["year:abc", "from:2025-13", "cat:!!", "author:", 'date:".."', "to:2025-02-30"]
)
def test_bad_filter_values_are_clear_errors(text: str) -> None:
    with pytest.raises(QueryError) as exc:
        parse(text)
    assert "e.g." in str(exc.value) or "write" in str(exc.value)


def test_operators_and_unknown_fields_are_plain_text() -> None:
    q = parse("NEAR AND title:transformer NOT astro http://x.org (a OR b) *")
    assert "transformer" in q.words and "title" not in q.words and "http" in q.words
    assert q.excluded == (("astro",),)
    assert "near" not in q.words and "*" not in q.text


def test_long_input_is_cut_with_a_note() -> None:
    q = parse("word " * 5000)
    assert q.words == ("word",)
    assert q.notes and "cut" in q.notes[0]
    many = parse(" ".join(f"w{i}" for i in range(500)))
    assert len(many.words) == 64


# --- property tests against a real Tantivy index ---


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, object]]:
    tmp: Path = tmp_path_factory.mktemp("qidx")
    db = open_database(f"sqlite:///{tmp / 'q.db'}")
    load(db)
    s = settings_for(db, tmp)
    run_index(db, s)
    yield db, s
    db.dispose()


HOSTILE = [
    '"',
    '""',
    "((",
    ")",
    "NEAR",
    "*",
    "-",
    "--",
    ":",
    "cat:",
    "a:b:c",
    "title:(",
    "\x00",
    "attention\x00\x00transformer",
    "🤖🔥 diffusion",
    "مرحبا بالعالم نماذج اللغة",
    "Attention Is All You Need\nfor Long Documents",
    "x" * 10_000,
    "a " * 5_000,
    "+-+-",
    "[1 TO 2]",
    "{a TO b}",
    "field:IN [a b]",
    "\\",
    "'; DROP TABLE papers; --",
    "<script>alert(1)</script>",
    'author:"',
    '-"dark matter',
    "AND OR NOT",
    "NOT",
    "year:2025..2024",
    "\u202eevil\u202c",
    "\ufeff\u200b",
]


@pytest.mark.parametrize("mode", ["lexical", "hybrid", "semantic"])
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_give_results_or_a_clear_error(
    indexed: tuple[Database, object], text: str, mode: str
) -> None:
    db, s = indexed
    try:
        res = search(db, s, text, mode=mode)  # type: ignore[arg-type]
    except QueryError as exc:
        assert str(exc)
        return
    assert res.total >= len(res.hits)


TOKENS = list('"():*-+\\[]{}^~!&|/ .,\n\t\x00') + [
    "cat:",
    "author:",
    "year:",
    "from:",
    "to:",
    "date:",
    "..",
    "2025",
    "cs.CL",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "TO",
    "IN",
    "attention",
    "diffusion",
    "Yann",
    " ",
    " ",
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)), max_size=14).map("".join))
def test_any_string_parses_and_searches(indexed: tuple[Database, object], text: str) -> None:
    db, s = indexed
    try:
        q = parse(text)
    except QueryError:
        return
    assert len(q.words) <= 64
    res = search(db, s, text, mode="hybrid", limit=5)
    assert len(res.hits) <= 5
    assert all(p.id == h.paper_id for p, h in zip(res.papers, res.hits, strict=True))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(["attention", "diffusion", "dark", "code", "sparse"]),
        min_size=1,
        max_size=3,
    )
)
def test_every_hit_contains_a_query_word(indexed: tuple[Database, object], ws: list[str]) -> None:
    db, s = indexed
    res = search(db, s, " ".join(ws), mode="lexical", limit=10)
    assert res.hits
    for p in res.papers:
        text = f"{p.title} {p.abstract}".lower()
        assert any(w in text for w in ws)

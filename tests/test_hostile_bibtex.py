"""BibTeX export against hostile titles and names, read back with a real BibTeX parser."""

from __future__ import annotations

import re
from datetime import datetime

import bibtexparser
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from paperfeed.models import Paper
from paperfeed.normalize import clean_text
from paperfeed.web.feeds import bib_key, bibtex, bibtex_entry

PHISH = "A}} , url = {https://evil.example/phish} , note = {{x"

# Inverse of the export's escaping: each escape back to its character, kept $math$ verbatim.
_DECODE = {
    r"\textbackslash{}": "\\",
    r"\textbraceleft{}": "{",
    r"\textbraceright{}": "}",
    r"\textasciitilde{}": "~",
    r"\textasciicircum{}": "^",
    r"\$": "$",
    r"\%": "%",
    r"\#": "#",
    r"\&": "&",
    r"\_": "_",
    "{@}": "@",
}
_TOKEN = re.compile(
    "|".join(re.escape(k) for k in sorted(_DECODE, key=len, reverse=True)) + r"|\$[^$]*\$"
)


def plain(value: str) -> str:
    """The text a BibTeX value written by the export stands for."""
    return _TOKEN.sub(lambda m: _DECODE.get(m.group(0), m.group(0)), value)


def unbrace(value: str) -> str:
    assert value.startswith("{") and value.endswith("}"), value
    return value[1:-1]


def top_level_names(field: str) -> list[str]:
    """Split an author field on ' and ' outside braces, as BibTeX does."""
    names, depth, start, i = [], 0, 0, 0
    while i < len(field):
        ch = field[i]
        depth += (ch == "{") - (ch == "}")
        if depth == 0 and field.startswith(" and ", i):
            names.append(field[start:i])
            start = i = i + 5
            continue
        i += 1
    names.append(field[start:])
    return names


def unand(name: str) -> str:
    """A name the export braced because it holds the word 'and', without those braces."""
    inner = name[1:-1]
    if name.startswith("{") and name.endswith("}") and re.search(r"\band\b", inner, re.I):
        return inner
    return name


def parse_one(text: str) -> bibtexparser.model.Entry:
    lib = bibtexparser.parse_string(text)
    assert lib.failed_blocks == [], text
    assert len(lib.entries) == 1, text
    return lib.entries[0]


HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("{}\\$%#&_~^@,=\"' ()\n\tandxyzé中\u0085\x00")),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=60,
)


def paper(title: str, authors: list[str], doi: str | None = None) -> Paper:
    return Paper(
        id="2401.01234",
        title=title,
        authors=authors,
        categories=["cs.CL"],
        published=datetime(2024, 1, 2),
        doi=doi,
        journal_ref=doi,
    )


def test_a_closing_brace_in_a_title_cannot_add_fields() -> None:
    entry = parse_one(bibtex_entry(paper(PHISH, [PHISH])))
    assert "url" in entry.fields_dict
    assert entry.fields_dict["url"].value == "https://arxiv.org/abs/2401.01234"
    assert "note" not in entry.fields_dict
    assert plain(unbrace(entry.fields_dict["title"].value)) == PHISH


def test_latex_math_is_kept_but_file_and_shell_commands_are_not() -> None:
    text = bibtex_entry(
        paper(
            r"Black holes of $10^9\,M_\odot$ and $\input{/etc/passwd}$ $\immediate\write18{id}$",
            [r"\def\x{y}"],
        )
    )
    assert r"$10^9\,M_\odot$" in text
    assert r"\input" not in text and r"\write18" not in text and r"\def" not in text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # ~2 s
@given(title=HOSTILE, authors=st.lists(HOSTILE, max_size=4), doi=st.one_of(st.none(), HOSTILE))
@example(title=PHISH, authors=["x and y", "}"], doi="10.1/a}b")
@example(title="$a}$ $b$ \\", authors=["@misc{evil,"], doi="%")
def test_every_hostile_value_stays_in_its_field_and_round_trips(
    title: str, authors: list[str], doi: str | None
) -> None:
    if not clean_text(title):
        title = "t"
    p = paper(title, authors, doi)
    entry = parse_one(bibtex([p]))
    assert entry.entry_type == "misc" and entry.key == bib_key(p)
    expected = {"title", "author", "year", "eprint", "archivePrefix", "primaryClass", "url"}
    if doi and clean_text(doi):
        expected |= {"doi", "journal"}
    fields = entry.fields_dict
    assert set(fields) == expected
    assert plain(unbrace(fields["title"].value)) == clean_text(title)
    names = [clean_text(a) for a in authors if clean_text(a)]
    written = [plain(unand(n)) for n in top_level_names(fields["author"].value)]
    assert written == (names or ["Unknown"])
    if "doi" in expected:
        assert plain(fields["doi"].value) == clean_text(doi or "")
    assert fields["url"].value == p.abs_url and fields["eprint"].value == p.id


@pytest.mark.parametrize("name", ["Ada and Alan", "ANDERSON and ANDREWS", "Sand, Andy"])
def test_a_name_with_the_word_and_stays_one_author(name: str) -> None:
    entry = parse_one(bibtex_entry(paper("t", [name, "Grace Hopper"])))
    assert len(top_level_names(entry.fields_dict["author"].value)) == 2

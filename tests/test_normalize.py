"""Canonical arXiv ids, versions and text clean-up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperfeed import normalize
from paperfeed.errors import InvalidId
from paperfeed.normalize import (
    canonical_id,
    clean_abstract,
    clean_text,
    parse_arxiv_id,
    split_authors,
    split_categories,
)


@pytest.mark.parametrize(
    ("text", "canonical", "version"),
    [
        ("2401.01234", "2401.01234", None),
        ("2401.01234v3", "2401.01234", 3),
        ("0704.0001", "0704.0001", None),
        ("arXiv:2401.01234v2", "2401.01234", 2),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("hep-th/9901001v2", "hep-th/9901001", 2),
        ("HEP-TH/9901001", "hep-th/9901001", None),
        ("math.AG/0601001", "math.AG/0601001", None),
        ("astro-ph/0601001", "astro-ph/0601001", None),
        ("https://arxiv.org/abs/2401.01234v2", "2401.01234", 2),
        ("http://arxiv.org/pdf/2401.01234.pdf", "2401.01234", None),
        ("https://arxiv.org/pdf/2401.01234v1", "2401.01234", 1),
        ("arxiv.org/abs/quant-ph/0201082v1", "quant-ph/0201082", 1),
        ("https://export.arxiv.org/abs/1707.08567", "1707.08567", None),
        ("oai:arXiv.org:0804.2273", "0804.2273", None),
        ("  2401.01234  ", "2401.01234", None),
    ],
)
def test_parses_every_id_form(text: str, canonical: str, version: int | None) -> None:
    aid = parse_arxiv_id(text)
    assert (aid.id, aid.version) == (canonical, version)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "2401.123",
        "2401.01234v0",
        "1' OR '1'='1",
        "../../etc/passwd",
        "<script>",
        "2401.01234v",
        "https://evil.example/abs/2401.01234",
        "hep-th/990100",
    ],
)
def test_rejects_non_ids_with_a_clear_message(text: str) -> None:
    with pytest.raises(InvalidId, match="not an arXiv id"):
        parse_arxiv_id(text)


@given(st.text(max_size=200))
def test_never_crashes_on_any_text(text: str) -> None:
    try:
        aid = parse_arxiv_id(text)
    except InvalidId:
        return
    # Whatever parses is canonical: parsing its string form again is a fixed point.
    assert canonical_id(str(aid)) == aid.id


def test_text_cleanup() -> None:
    assert (
        clean_text("Calculation of prompt\n  diphoton  production\x00")
        == "Calculation of prompt diphoton production"
    )
    assert (
        clean_abstract("  first line\nwraps here.\n\n second\n para ")
        == "first line wraps here.\n\nsecond para"
    )
    assert split_authors("C. Bal\\'azs, E. L. Berger (ANL, Chicago), and P. M. Nadolsky") == [
        "C. Bal\\'azs",
        "E. L. Berger",
        "P. M. Nadolsky",
    ]
    assert split_categories("hep-ph cs.LG hep-ph") == ["hep-ph", "cs.LG"]


def test_the_source_gate_keeps_every_field_of_a_record() -> None:
    """valid_record rebuilds records field by field: a field added to a model must survive it."""
    import dataclasses
    from datetime import UTC, date, datetime

    from paperfeed.models import FeedEntry, ImportRecord, Organization, Paper
    from paperfeed.normalize import valid_record

    when = datetime(2026, 8, 19, 20, 0, tzinfo=UTC)
    paper = Paper(
        id="2608.19861",
        title="A title",
        abstract="An abstract.",
        authors=["Ada Lovelace"],
        categories=["cs.CL"],
        version=2,
        published=datetime(2026, 8, 18),
        updated=datetime(2026, 8, 19),
        comments="9 pages",
        journal_ref="J. Test 1 (2026)",
        doi="10.1/x",
        license="http://creativecommons.org/licenses/by/4.0/",
        github_repo="https://github.com/a/b",
        project_page="https://a.example/",
        ai_summary="A summary.",
        ai_keywords=["a keyword"],
        upvotes=3,
        num_comments=1,
        organization=Organization("60f1", "acme", "Acme Research", "https://a.example/a.png"),
        discussion_id="68a1b2",
        thumbnail="https://a.example/t.png",
        media_urls=["https://a.example/v.mp4"],
        github_stars=12,
    )
    entry = FeedEntry(
        "2608.19861",
        date(2026, 8, 21),
        "taesiri",
        when,
        "hf",
        submitter_fullname="Mohammad Reza Taesiri",
        submitter_avatar="/avatars/x.svg",
        listed_at=when,
        author_participating=True,
    )
    out = valid_record(ImportRecord(paper, [entry], []))
    for obj, got in ((paper, out.paper), (entry, out.entries[0])):
        for f in dataclasses.fields(obj):
            assert getattr(got, f.name) == getattr(obj, f.name), f.name


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("José García", "jose-garcia"),
        ("JOSÉ  GARCÍA", "jose-garcia"),
        ("Y. LeCun", "y-lecun"),
        ("李 飞飞", "李-飞飞"),
        ("et al.", ""),
        ("", ""),
    ],
)
def test_author_slug_folds_accents_and_case_and_drops_placeholders(name: str, slug: str) -> None:
    assert normalize.author_slug(name) == slug


# --- authors: slugs of odd names, and a slug is its own slug (author URLs never redirect twice) ---
@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("A. N. Other et al.", "a-n-other"),
        ("Smith et.al.", "smith"),
        ("Mary Etal", "mary-etal"),
        ("Wei Wang (Google)", "wei-wang"),
        ("(Google)", ""),
        ("Ｊｏｓé", "jose"),
        ("Y.", "y"),
    ],
)
def test_author_slug_of_odd_names(name: str, slug: str) -> None:
    assert normalize.author_slug(name) == slug


@given(st.text(max_size=60))
def test_author_slug_is_idempotent_and_path_safe(name: str) -> None:
    slug = normalize.author_slug(name)
    assert normalize.author_slug(slug) == slug
    assert "/" not in slug and "?" not in slug and len(slug) <= 120


@pytest.mark.parametrize("name", ["Others!", "ET-AL", "et al.", "Anonymous;"])
def test_author_slug_drops_placeholders_after_folding(name: str) -> None:
    assert normalize.author_slug(name) == ""

"""Hostile records through every importer and source parser, into both databases, onto every page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from paperfeed.config import Settings
from paperfeed.digest.render import digest_message
from paperfeed.errors import UpstreamError
from paperfeed.models import ImportRecord
from paperfeed.pipeline import import_files, store_records
from paperfeed.ranking.trending import rank
from paperfeed.search.sync import run_index
from paperfeed.sources.arxiv_api import parse_feed
from paperfeed.sources.arxiv_oai import parse_list_records
from paperfeed.sources.base import Page
from paperfeed.sources.hf_daily import parse_day
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.store.outbox import OutboxRow
from paperfeed.web.app import create_app

DAY = date(2026, 8, 21)
NASTY = [
    "\x00",
    "\ud800",
    "\udfff",
    "\x1b[31m",
    "\x85",
    "\x7f",
    "\u2028",
    "\u202e",
    "\ufffe",
    "\t\n\r",
    "<script>alert(1)</script>",
    "\"'><img src=x onerror=alert(1)>",
    "]]>",
    "&amp;&lt;",
    r"$\input{/etc/passwd}$",
    r"$x^{2}_\odot$ \frac{a}{b} \\ \{ \}",
    "}} , url = {https://evil.example/phish} , x = {{",
    "@misc{evil,",
    "% # & _ ~ ^",
    "javascript:alert(1)",
    "Robert'); DROP TABLE papers;--",
    "cs.AI\x01",
    "Ω≈ç√∫ 中文 العربية 😀",
]
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(exclude_categories=()), max_size=30),  # includes lone surrogates
    st.lists(st.sampled_from(NASTY), max_size=4).map("".join),
    st.sampled_from(["x" * 3000, "y " * 15000]),  # past the title and abstract limits
)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
ODD_IDS = [
    *(f"2408.{n:05d}" for n in range(10, 30)),
    "2408.00001",
    "2408.00002v3",
    "hep-th/9901001",
    "HEP-TH/9901002v2",
    "arXiv:2408.00003",
    "https://arxiv.org/abs/2408.00004v1",
    "oai:arXiv.org:math.AG/0601001",
    "２４０８.００００５",  # full-width digits
    "2408.1",
    "../../etc/passwd",
    "2408.00006\x00",
    "",
]
CATS = st.lists(
    st.one_of(st.sampled_from(["cs.CL", "hep-th", "cond-mat.str-el", "cs.AI\x01"]), TEXT),
    max_size=3,
)


@st.composite
def hostile_records(draw: st.DrawFn) -> dict[str, Any]:
    """One upstream record's fields, each valid, hostile text or a value of the wrong type."""

    def field(strategy: st.SearchStrategy[Any]) -> Any:
        # One field in ten of the wrong type, so most records carry hostile text onto the pages.
        return draw(JUNK if draw(st.integers(0, 9)) == 0 else strategy)

    return {
        "id": field(st.sampled_from(ODD_IDS)),
        "title": field(TEXT),
        "abstract": field(TEXT),
        "authors": field(st.lists(st.one_of(TEXT, st.builds(lambda n: {"name": n}, TEXT)))),
        "categories": field(CATS),
        "published": field(st.sampled_from(["2026-08-20T10:00:00", "0001-01-01", "soon"])),
        "upvotes": field(st.integers(min_value=-5, max_value=2**40)),
        "url": field(st.sampled_from(["https://github.com/a/b", "javascript:alert(1)"])),
        "comments": field(TEXT),
    }


def _xml(value: Any) -> str:
    """Text an upstream could send in XML: the characters XML 1.0 allows, escaped."""
    text = value if isinstance(value, str) else json.dumps(value)
    return escape(re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", "", text))


def _names(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def write_files(folder: Path, records: list[dict[str, Any]]) -> list[Path]:
    """Every file format the importer reads, each holding every record."""
    export, snapshot, corpus, flat, raw = [], [], [], [], []
    for r in records:
        export.append(
            {
                "paperfeed": 1,
                **{k: r[k] for k in ("id", "title", "abstract", "authors", "categories")},
                "published": r["published"],
                "upvotes": r["upvotes"],
                "github_repo": r["url"],
                "comments": r["comments"],
                "feed": [{"day": DAY.isoformat(), "submitted_by": r["title"]}],
            }
        )
        snapshot.append(
            {
                "id": r["id"],
                "title": r["title"],
                "abstract": r["abstract"],
                "authors": r["comments"],
                "authors_parsed": [[a, "", ""] for a in _names(r["authors"])],
                "categories": r["categories"],
                "versions": [{"version": "v1", "created": r["published"]}],
                "update_date": "2026-08-21",
            }
        )
        corpus.append(
            {
                **{k: r[k] for k in ("id", "title", "abstract", "authors", "categories")},
                "listing_dates": [r["published"]],
            }
        )
        flat.append({"date": DAY.isoformat(), **{k: r[k] for k in ("id", "title", "upvotes")}})
        raw.append(hf_item(r))
    paths = []
    for name, rows in [
        ("export.jsonl", export),
        ("snapshot.jsonl", snapshot),
        ("corpus.jsonl", corpus),
        ("flat.jsonl", flat),
        ("raw.jsonl", raw),
    ]:
        path = folder / name
        path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
        paths.append(path)
    day_file = folder / f"{DAY}.json"
    day_file.write_text(json.dumps(raw))
    return [*paths, day_file]


def hf_item(r: dict[str, Any]) -> dict[str, Any]:
    """A Hugging Face daily-papers API item."""
    authors = [{"name": a} for a in _names(r["authors"])] if r["authors"] else r["authors"]
    return {
        "paper": {
            "id": r["id"],
            "title": r["title"],
            "summary": r["abstract"],
            "authors": authors,
            "upvotes": r["upvotes"],
            "githubRepo": r["url"],
            "githubStars": r["upvotes"],
            "ai_keywords": r["categories"],
            "submittedOnDailyAt": r["published"],
        },
        "submittedBy": {"name": r["comments"]},
        "numComments": r["upvotes"],
    }


def oai_page(records: list[dict[str, Any]], prefix: str) -> bytes:
    """An OAI-PMH ListRecords page in one metadata format."""
    body = []
    for r in records:
        ident = _xml(r["id"])
        cats = _xml(
            " ".join(map(str, r["categories"]))
            if isinstance(r["categories"], list)
            else r["categories"]
        )
        if prefix == "arXivRaw":
            meta = (
                f'<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{ident}</id>'
                f'<version version="v1"><date>{_xml(r["published"])}</date></version>'
                f"<title>{_xml(r['title'])}</title><authors>{_xml(r['comments'])}</authors>"
                f"<categories>{cats}</categories><abstract>{_xml(r['abstract'])}</abstract>"
                "</arXivRaw>"
            )
        elif prefix == "arXiv":
            authors = "".join(
                f"<author><keyname>{_xml(a)}</keyname></author>" for a in _names(r["authors"])
            )
            meta = (
                f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{ident}</id>'
                f"<created>{_xml(r['published'])}</created><authors>{authors}</authors>"
                f"<title>{_xml(r['title'])}</title><categories>{cats}</categories>"
                f"<abstract>{_xml(r['abstract'])}</abstract></arXiv>"
            )
        else:
            creators = "".join(f"<dc:creator>{_xml(a)}</dc:creator>" for a in _names(r["authors"]))
            meta = (
                '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:title>{_xml(r['title'])}</dc:title>{creators}"
                f"<dc:description>{_xml(r['abstract'])}</dc:description>"
                f"<dc:date>{_xml(r['published'])}</dc:date>"
                f"<dc:identifier>http://arxiv.org/abs/{ident}</dc:identifier></oai_dc:dc>"
            )
        body.append(
            f"<record><header><identifier>oai:arXiv.org:{ident}</identifier>"
            f"<datestamp>2026-08-21</datestamp></header><metadata>{meta}</metadata></record>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        + "".join(body)
        + "</ListRecords></OAI-PMH>"
    ).encode()


def atom_feed(records: list[dict[str, Any]]) -> bytes:
    """An arXiv API Atom response."""
    entries = []
    for r in records:
        cats = "".join(f"<category term={quoteattr(_xml(c))}/>" for c in _names(r["categories"]))
        authors = "".join(f"<author><name>{_xml(a)}</name></author>" for a in _names(r["authors"]))
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{_xml(r['id'])}</id>"
            f"<published>{_xml(r['published'])}</published><title>{_xml(r['title'])}</title>"
            f"<summary>{_xml(r['abstract'])}</summary>{authors}{cats}"
            f"<arxiv:comment>{_xml(r['comments'])}</arxiv:comment></entry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        + "".join(entries)
        + "</feed>"
    ).encode()


def parsed_pages(records: list[dict[str, Any]]) -> list[Page]:
    """Every source parser's page for the records; a whole payload may only fail as UpstreamError."""
    makers = [
        lambda: parse_day(json.dumps([hf_item(r) for r in records]).encode(), DAY),
        *[
            (lambda p=prefix: parse_list_records(oai_page(records, p), p))
            for prefix in ("arXivRaw", "arXiv", "oai_dc")
        ],
        lambda: Page(records=[ImportRecord(p) for p in parse_feed(atom_feed(records)).papers]),
    ]
    pages = []
    for make in makers:
        try:
            pages.append(make())
        except UpstreamError:
            pass
    return pages


Site = tuple[Database, Settings, TestClient]


@pytest.fixture
def hostile_site(db: Database, tmp_path: Path) -> Iterator[Site]:
    """The web app on the test database, its search index in a temporary folder."""
    s = Settings(database_url=db.url, data_dir=str(tmp_path / "data"), site_name="hostile")
    with TestClient(create_app(s, db), raise_server_exceptions=False) as client:
        yield db, s, client


def _pages(client: TestClient, ids: list[str]) -> list[str]:
    paths = [
        "/",
        f"/papers/date/{DAY}",
        "/papers/week/2026-W34",
        "/papers/month/2026-08",
        "/papers/trending",
        "/search?q=script&mode=lexical",
        "/search?q=%F0%9F%98%80+%22%7D%7D&mode=lexical",
        "/papers/feed.atom",
        f"/papers/feed.atom?date={DAY}",
        "/papers/feed.atom?month=2026-08",
        "/papers/trending.atom",
        "/search.atom?q=alert&mode=lexical",
        "/papers/feed.bib",
        "/papers/trending.bib",
        f"/api/daily_papers?date={DAY}",
        "/api/trending",
    ]
    for pid in ids:
        paths += [f"/papers/{pid}", f"/papers/{pid}.bib", f"/api/papers/{pid}"]
    return [f"{p} -> {r.status_code}" for p in paths if (r := client.get(p)).status_code >= 500]


@settings(
    max_examples=40,  # 0.3-1 s each; the count, not a clock, bounds the cost
    deadline=None,
    derandomize=True,  # the same examples on every run: a bounded, repeatable cost
    phases=[Phase.explicit, Phase.generate],  # no shrinking: it would rerun pages for minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=st.lists(hostile_records(), min_size=1, max_size=8))
def test_hostile_records_are_stored_cleanly_and_every_page_renders(
    hostile_site: Site,
    tmp_path_factory: pytest.TempPathFactory,
    records: list[dict[str, Any]],
) -> None:
    db, s, client = hostile_site
    folder = tmp_path_factory.mktemp("hostile")
    summary = import_files(db, write_files(folder, records))
    assert summary.files == 6
    for e in summary.errors:  # every problem names its file and line and stays one short line
        assert e.path.startswith(str(folder)) and "\n" not in str(e) and len(e.message) < 400
    for page in parsed_pages(records):
        assert all("\n" not in e for e in page.errors)
        with db.write() as conn:
            store_records(conn, page.records)
    with db.read() as conn:
        stored = list(paper_store.iter_papers(conn))
    for p in stored:
        for text in [p.id, p.title, p.abstract, *p.authors, *p.categories, p.comments or ""]:
            assert isinstance(text, str)
            assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]", text)
        assert len(p.title) <= 1000 and p.github_repo in (None, "https://github.com/a/b")
    run_index(db, s, embed=False)
    rank(db, s, now=datetime(2026, 8, 21, 23, 0))
    assert _pages(client, [p.id for p in stored]) == []
    row = OutboxRow(
        id=1,
        subscription_id=1,
        period="d:2026-08-21",
        token="t",
        message_id="<m@hostile>",
        to_addr="reader@example.org",
        subject="Daily papers",
        content={
            "sections": [{"key": "top", "title": "Top", "items": [{"id": p.id} for p in stored]}]
        },
        items=len(stored),
        status="pending",
        attempts=0,
        next_attempt_at=datetime(2026, 8, 21),
    )
    message = digest_message(s, row, {p.id: p for p in stored})
    assert message.as_bytes()  # both bodies render and the MIME message serialises


def test_a_control_character_in_a_category_keeps_every_atom_feed_working(
    hostile_site: Site, tmp_path: Path
) -> None:
    # The category reached an XML attribute unchanged and three feeds answered 500.
    db, s, client = hostile_site
    line = {
        "paperfeed": 1,
        "id": "2408.00001",
        "title": "Controls",
        "categories": ["cs.AI\x01", "cs.CL"],
        "feed": [{"day": DAY.isoformat()}],
        "upvotes": 3,
    }
    path = tmp_path / "controls.jsonl"
    path.write_text(json.dumps(line) + "\n")
    assert import_files(db, [path]).counts.new == 1
    run_index(db, s, embed=False)
    rank(db, s, now=datetime(2026, 8, 21, 23, 0))
    for url in (
        "/papers/feed.atom",
        "/papers/trending.atom",
        "/search.atom?q=controls&mode=lexical",
    ):
        r = client.get(url)
        assert r.status_code == 200 and b'term="cs.AI"' in r.content, url

"""The store's contract, run on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from paperfeed.models import FeedEntry, Paper, Signal
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store
from paperfeed.store import signals as signal_store
from paperfeed.store.migrate import applied, available, upgrade
from paperfeed.store.schema import metadata


def paper(pid: str, **kw: object) -> Paper:
    base: dict = {
        "title": f"Title of {pid}",
        "abstract": "An abstract.",
        "authors": ["A. Author"],
        "categories": ["cs.CL"],
    }
    base.update(kw)
    return Paper(id=pid, **base)


def test_migrations_apply_once_and_match_the_schema(db: Database) -> None:
    assert applied(db) == available()
    assert upgrade(db) == []  # idempotent
    with db.read() as conn:
        inspector = sa.inspect(conn)
        for table in metadata.tables.values():
            have = {c["name"] for c in inspector.get_columns(table.name)}
            assert {c.name for c in table.columns} <= have, table.name


def test_upsert_inserts_then_reports_unchanged(db: Database) -> None:
    with db.write() as conn:
        c = paper_store.upsert_papers(conn, [paper("2401.00001"), paper("hep-th/9901001")])
    assert (c.new, c.updated, c.unchanged) == (2, 0, 0)
    with db.write() as conn:
        c = paper_store.upsert_papers(conn, [paper("2401.00001"), paper("hep-th/9901001")])
    assert (c.new, c.updated, c.unchanged) == (0, 0, 2)
    with db.read() as conn:
        p = paper_store.get_paper(conn, "hep-th/9901001")
        assert p is not None and p.authors == ["A. Author"] and p.primary_category == "cs.CL"
        assert paper_store.count_papers(conn) == 2


def test_versions_never_go_backwards_and_empty_fields_never_erase(db: Database) -> None:
    with db.write() as conn:
        paper_store.upsert_papers(
            conn, [paper("2401.00001", version=3, title="v3 title", doi="10.1/x")]
        )
    with db.write() as conn:
        c = paper_store.upsert_papers(
            conn, [paper("2401.00001", version=2, title="v2 title", comments="old")]
        )
    assert c.updated == 1  # the older version only filled the missing comment
    with db.write() as conn:
        paper_store.upsert_papers(
            conn, [paper("2401.00001", version=3, title="v3 title", doi=None, abstract="")]
        )
    with db.read() as conn:
        p = paper_store.get_paper(conn, "2401.00001")
    assert p is not None
    assert (p.version, p.title, p.comments, p.doi, p.abstract) == (
        3,
        "v3 title",
        "old",
        "10.1/x",
        "An abstract.",
    )


def test_links_set_by_hand_outlast_later_harvests(db: Database) -> None:
    """An author's GitHub link, or a project page they cleared, is not put back by the next harvest."""
    hf = {"github_repo": "https://github.com/hf/guess", "project_page": "https://hf.example/"}
    with db.write() as conn:
        paper_store.upsert_papers(conn, [paper("2401.00009", **hf)])
        paper_store.set_links(
            conn, "2401.00009", github_repo="https://github.com/ada/engine", project_page=None
        )
    with db.write() as conn:  # a newer version arrives with the source's links again
        paper_store.upsert_papers(conn, [paper("2401.00009", version=2, title="v2", **hf)])
        paper_store.upsert_papers(conn, [paper("2401.00010", **hf)])  # never edited: takes them
    with db.read() as conn:
        p = paper_store.get_paper(conn, "2401.00009")
        other = paper_store.get_paper(conn, "2401.00010")
    assert p is not None and other is not None
    assert (p.version, p.title, p.github_repo, p.project_page) == (
        2,
        "v2",
        "https://github.com/ada/engine",
        None,
    )
    assert other.github_repo == hf["github_repo"]


def test_change_numbers_grow_with_every_write(db: Database) -> None:
    with db.write() as conn:
        paper_store.upsert_papers(conn, [paper("2401.00001"), paper("2401.00002")])
    with db.read() as conn:
        first = paper_store.changed_since(conn, 0)
        top = paper_store.max_rev(conn)
    assert [p.id for _, p, _ in first] == ["2401.00001", "2401.00002"]
    with db.write() as conn:
        paper_store.upsert_papers(conn, [paper("2401.00002", title="Changed")])
        paper_store.set_hidden(conn, "2401.00001", True)
    with db.read() as conn:
        later = paper_store.changed_since(conn, top)
    assert [(p.id, hidden) for _, p, hidden in later] == [
        ("2401.00002", False),
        ("2401.00001", True),
    ]


def test_feed_ranks_by_upvotes_with_stable_tie_break_and_navigates(db: Database) -> None:
    with db.write() as conn:
        paper_store.upsert_papers(
            conn,
            [
                paper("2401.00001", upvotes=5),
                paper("2401.00002", upvotes=9),
                paper("2401.00003", upvotes=5),
                paper("2401.00004", upvotes=1),
            ],
        )
        feed_store.add_entries(
            conn,
            [
                FeedEntry("2401.00001", date(2024, 1, 2), "alice"),
                FeedEntry("2401.00002", date(2024, 1, 2)),
                FeedEntry("2401.00003", date(2024, 1, 2)),
                FeedEntry("2401.00004", date(2024, 1, 5)),
            ],
        )
        # A second import of the same entry keeps the submitter and adds no row.
        feed_store.add_entries(conn, [FeedEntry("2401.00001", date(2024, 1, 2), None)])
    with db.read() as conn:
        items = feed_store.feed_between(conn, date(2024, 1, 2), date(2024, 1, 2))
        assert [i.paper.id for i in items] == ["2401.00002", "2401.00003", "2401.00001"]
        assert items[2].submitted_by == "alice"
        assert feed_store.count_between(conn, date(2024, 1, 1), date(2024, 1, 31)) == 4
        assert feed_store.latest_day(conn) == date(2024, 1, 5)
        assert feed_store.day_before(conn, date(2024, 1, 5)) == date(2024, 1, 2)
        assert feed_store.day_after(conn, date(2024, 1, 2)) == date(2024, 1, 5)
        assert feed_store.day_after(conn, date(2024, 1, 5)) is None
        page2 = feed_store.feed_between(
            conn, date(2024, 1, 1), date(2024, 1, 31), limit=2, offset=2
        )
        assert [i.paper.id for i in page2] == ["2401.00001", "2401.00004"]
    with db.write() as conn:
        paper_store.set_hidden(conn, "2401.00002", True)
    with db.read() as conn:
        assert "2401.00002" not in [
            i.paper.id for i in feed_store.feed_between(conn, date(2024, 1, 2), date(2024, 1, 2))
        ]
        assert paper_store.get_paper(conn, "2401.00002") is None


def test_signals_are_stored_once_per_observation(db: Database) -> None:
    when = datetime(2024, 1, 2, 3, 4, 5)
    with db.write() as conn:
        paper_store.upsert_papers(conn, [paper("2401.00001")])
        signal_store.add_signals(conn, [Signal("2401.00001", "github_stars", 10, when)] * 2)
        signal_store.add_signals(
            conn, [Signal("2401.00001", "github_stars", 12, datetime(2024, 1, 3))]
        )
    with db.read() as conn:
        assert signal_store.latest(conn, "2401.00001") == {"github_stars": 12}


def test_text_with_markup_and_unicode_round_trips(db: Database) -> None:
    title = "<script>alert(1)</script> $\\alpha$-Decay ‘quotes’ 中文 \U0001f600"
    with db.write() as conn:
        paper_store.upsert_papers(
            conn,
            [
                paper(
                    "2401.00001",
                    title=title,
                    authors=["Zoë O'Brien", "Robert'); DROP TABLE papers;--"],
                )
            ],
        )
    with db.read() as conn:
        p = paper_store.get_paper(conn, "2401.00001")
    assert p is not None and p.title == title and p.authors[1].startswith("Robert')")


def test_bulk_upsert_in_one_transaction_and_iteration(db: Database) -> None:
    batch = [paper(f"2402.{i:05d}") for i in range(1, 1201)]
    with db.write() as conn:
        assert paper_store.upsert_papers(conn, batch).new == 1200
    with db.read() as conn:
        ids = [p.id for p in paper_store.iter_papers(conn, batch=500)]
        assert ids == sorted(p.id for p in batch)
        assert len(paper_store.get_papers(conn, ids[:700])) == 700

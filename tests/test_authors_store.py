"""The authorship index, people grouping, organizations and claims in the store, on both backends."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from _authors_helpers import LAB, PAPERS, add_author_papers

from paperfeed.errors import NotFound
from paperfeed.models import Paper
from paperfeed.service import authors as author_service
from paperfeed.store import Database
from paperfeed.store import claims as claim_store
from paperfeed.store import comments as comment_store
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store
from paperfeed.store import users as user_store
from paperfeed.store.migrations import m0012_authors
from paperfeed.store.schema import author_claims, paper_authors

NOW = datetime(2026, 11, 30, 12)


def _index(db: Database, pid: str) -> list[tuple[int, str, str]]:
    with db.read() as conn:
        q = (
            sa.select(paper_authors.c.position, paper_authors.c.name, paper_authors.c.slug)
            .where(paper_authors.c.paper_id == pid)
            .order_by(paper_authors.c.position)
        )
        return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]


def test_upsert_indexes_authors_and_follows_a_changed_list(db: Database) -> None:
    add_author_papers(db)
    assert _index(db, "2611.00007") == [
        (0, "李 飞飞", "李-飞飞"),
        (1, "José García", "jose-garcia"),
        (2, "Y.", "y"),
        (3, "et al.", ""),
    ]
    p = PAPERS[0]
    newer = Paper(
        id=p.id,
        title=p.title,
        authors=["Li Na", "Wei Wang", "Zoe Q"],
        categories=p.categories,
        version=2,
        published=p.published,
    )
    with db.write() as conn:
        paper_store.upsert_papers(conn, [newer])
    assert [s for _, _, s in _index(db, p.id)] == ["li-na", "wei-wang", "zoe-q"]
    # A re-import of the same list leaves the index as it is (no duplicate rows).
    with db.write() as conn:
        paper_store.upsert_papers(conn, [newer])
    assert len(_index(db, p.id)) == 3


def test_migration_backfills_papers_stored_before_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_author_papers(db)
    monkeypatch.setattr(m0012_authors, "_BATCH", 3)  # several keyset rounds over eight papers
    with db.write() as conn:
        conn.execute(sa.delete(paper_authors))
        m0012_authors._backfill(conn, paper_authors)
        total = conn.execute(sa.select(sa.func.count()).select_from(paper_authors)).scalar_one()
    assert total == sum(len(p.authors) for p in PAPERS)
    assert [s for _, _, s in _index(db, "2611.00004")] == ["wei-wang", "ivan-petrov"]


def test_two_people_with_one_name_are_told_apart(db: Database) -> None:
    add_author_papers(db)
    page = author_service.author_page(db, "wei-wang")
    assert page.grouping.endswith("2 people with this name here")
    vision, physics = page.people
    assert {a.paper_id for a in vision.papers} == {
        "2611.00001",
        "2611.00002",
        "2611.00003",
        "2611.00006",
    }
    assert {a.paper_id for a in physics.papers} == {"2611.00004", "2611.00005"}
    # The stable key is the earliest paper; any paper of the person finds them.
    assert vision.key == "2611.00001" and physics.key == "2611.00004"
    assert author_service.author_page(db, "wei-wang", person="2611.00005").person == physics
    assert [s for s, _, _ in physics.coauthors] == ["ivan-petrov"]
    assert dict(vision.categories)["cs.CV"] == 4
    # Newest first over everyone, paged; upvotes add up.
    assert [p.id for p in page.papers][:2] == ["2611.00006", "2611.00003"]
    assert page.upvotes == 5 + 7 + 1 + 2 + 3
    two = author_service.author_page(db, "wei-wang", page=2, size=2)
    assert [p.id for p in two.papers] == ["2611.00004", "2611.00001"] and two.pages == 3
    with pytest.raises(NotFound):
        author_service.author_page(db, "wei-wang", page=3, size=2)
    with pytest.raises(NotFound):
        author_service.author_page(db, "wei-wang", person="2611.00008")
    with pytest.raises(NotFound):
        author_service.author_page(db, "nobody-here")


def test_confirmed_claims_by_one_member_join_their_papers(db: Database) -> None:
    add_author_papers(db)
    with db.write() as conn:
        u = user_store.create_user(conn, "w@example.org", "Wei", verified=True)
        for pid, pos in (("2611.00001", 0), ("2611.00004", 0)):
            cid = claim_store.add_claim(
                conn,
                paper_id=pid,
                position=pos,
                user_id=u.id,
                name="Wei Wang",
                slug="wei-wang",
                orcid=None,
                at=NOW,
            )
            claim_store.decide(conn, cid, "confirmed", at=NOW, evidence="test")
    page = author_service.author_page(db, "wei-wang")
    assert len(page.people) == 1 and page.people[0].members == [u.id]


def test_hidden_papers_are_left_out(db: Database) -> None:
    add_author_papers(db)
    with db.write() as conn:
        paper_store.set_hidden(conn, "2611.00004", True)
    page = author_service.author_page(db, "ivan-petrov")
    assert [p.id for p in page.papers] == ["2611.00005"]


def test_organization_pages_query(db: Database) -> None:
    add_author_papers(db)
    page = author_service.org_page(db, "Example-Lab")
    assert page.organization == LAB
    assert [p.id for p in page.papers] == ["2611.00007", "2611.00003", "2611.00001"]
    assert page.total == 3 and page.upvotes == 6
    assert dict(page.categories) == {"cs.CV": 2, "cs.AI": 1}
    assert ("wei-wang", 2) in [(s, n) for s, _, n in page.authors]
    with pytest.raises(NotFound):
        author_service.org_page(db, "no-such-lab")


def test_claims_store_and_participation(db: Database) -> None:
    add_author_papers(db)
    with db.write() as conn:
        ada = user_store.create_user(conn, "ada@example.org", "Ada", verified=True)
        bob = user_store.create_user(conn, "bob@example.org", "Bob", verified=True)
        cid = claim_store.add_claim(
            conn,
            paper_id="2611.00008",
            position=0,
            user_id=ada.id,
            name="Ada Lovelace",
            slug="ada-lovelace",
            orcid=None,
            at=NOW,
        )
        comment_store.add_comment(conn, "2611.00008", ada.id, "I wrote this")
        comment_store.add_comment(conn, "2611.00002", ada.id, "Not mine")
    with db.read() as conn:
        assert claim_store.count_pending(conn) == 1
        assert not claim_store.is_participating(conn, "2611.00008")  # pending is not enough
    with db.write() as conn:
        claim_store.decide(conn, cid, "confirmed", at=NOW, evidence="ok", decided_by=bob.id)
    with db.read() as conn:
        assert claim_store.confirmed_members(conn, "2611.00008") == [ada.id]
        assert claim_store.is_participating(conn, "2611.00008")
        assert not claim_store.is_participating(conn, "2611.00002")
        items = feed_store.feed_between(conn, PAPERS[0].published.date(), NOW.date(), limit=50)  # type: ignore[union-attr]
        flags = {i.paper.id: i.author_participating for i in items}
    assert flags["2611.00008"] is True and not flags["2611.00002"]
    with db.write() as conn:
        user_store.delete_user(conn, bob.id)
        assert claim_store.get_claim(conn, cid).decided_by is None  # type: ignore[union-attr]
        user_store.delete_user(conn, ada.id)
        left = conn.execute(sa.select(sa.func.count()).select_from(author_claims)).scalar_one()
    assert left == 0

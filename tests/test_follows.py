"""Follows: the model, the service rules, incremental matching and notifications, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotFound
from paperfeed.matching import match_new
from paperfeed.models import Comment, Organization, Paper, User
from paperfeed.normalize import author_slug
from paperfeed.service import comments as comment_service
from paperfeed.service import follows as follow_service
from paperfeed.store import Database
from paperfeed.store import claims as store_claims
from paperfeed.store import follows as store_follows
from paperfeed.store import library as store_library
from paperfeed.store import notifications as store_notes
from paperfeed.store import papers as store_papers
from paperfeed.store import users as store_users
from paperfeed.store.schema import follow_matches, notifications, paper_authors

NOW = datetime(2026, 11, 30, 9, 0)


def _paper(pid: str, title: str, authors: list[str], cats: list[str], **kw: object) -> Paper:
    return Paper(
        id=pid,
        title=title,
        abstract=kw.pop("abstract", "An abstract about methods.") or "",  # type: ignore[arg-type]
        authors=authors,
        categories=cats,
        published=NOW,
        **kw,  # type: ignore[arg-type]
    )


def _store(db: Database, *papers: Paper) -> None:
    with db.write() as conn:
        store_papers.upsert_papers(conn, list(papers))


def _member(db: Database, email: str = "ada@example.org", name: str = "Ada") -> User:
    with db.write() as conn:
        return store_users.create_user(conn, email, name, verified=True)


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return Settings(embed_model="hash:64")


def _matched(db: Database, user: User) -> set[tuple[str, str]]:
    with db.read() as conn:
        return {(m.label, m.paper_id) for m in store_follows.matches_for(conn, user.id)}


def test_follow_rules_errors_and_cap(db: Database, settings: Settings) -> None:
    _store(
        db,
        _paper("2401.00001", "Old", ["José García", "李雷", "et al."], ["cs.CL"]),
        _paper(
            "2401.00002",
            "Org",
            ["A. B."],
            ["math.AG"],
            organization=Organization("o1", "DeepMind", "Google DeepMind"),
        ),
    )
    ada = _member(db)
    f, new = follow_service.follow(db, settings, ada, "author", "Jose GARCIA")
    assert new and f.target == "jose-garcia" and f.label == "José García"
    assert not follow_service.follow(db, settings, ada, "author", "josé garcía")[1]
    assert follow_service.follow(db, settings, ada, "author", "李雷")[0].target == "李雷"
    assert follow_service.follow(db, settings, ada, "org", "deepmind")[0].label == "DeepMind"
    assert follow_service.follow(db, settings, ada, "category", "cs.CL")[0].target == "cs.cl"
    assert follow_service.follow(db, settings, ada, "category", "math")[0].target == "math"
    with pytest.raises(InvalidInput, match="not an author name"):
        follow_service.follow(db, settings, ada, "author", "et al.")
    with pytest.raises(NotFound, match="no paper here is by"):
        follow_service.follow(db, settings, ada, "author", "Nobody Atall")
    with pytest.raises(NotFound, match="no organization"):
        follow_service.follow(db, settings, ada, "org", "Nowhere Labs")
    with pytest.raises(InvalidInput, match="not an arXiv category"):
        follow_service.follow(db, settings, ada, "category", "cs..x!")
    with pytest.raises(NotFound, match="no paper here is in"):
        follow_service.follow(db, settings, ada, "category", "q-bio.NC")
    with pytest.raises(InvalidInput, match="not valid"):
        follow_service.follow(db, settings, ada, "search", "transformers year:abc")
    with pytest.raises(InvalidInput, match="match nothing"):
        follow_service.follow(db, settings, ada, "search", "-- ;;")
    with pytest.raises(InvalidInput, match="cannot follow"):
        follow_service.follow(db, settings, ada, "planet", "Mars")
    with pytest.raises(NotFound, match="no collection"):
        follow_service.follow(db, settings, ada, "collection", "99")
    # The cap: a member with the most follows gets a clear error and keeps what they had.
    capped = settings.with_(follow_max_per_member=7)
    follow_service.follow(db, capped, ada, "search", "graph neural networks cat:cs.LG")
    follow_service.follow(db, capped, ada, "paper_version", "2401.00001v1")
    with pytest.raises(InvalidInput, match="already follow 7 things"):
        follow_service.follow(db, capped, ada, "search", "diffusion")
    assert len(follow_service.list_for(db, ada)) == 7
    # Unfollow: only one's own follows.
    bob = _member(db, "bob@example.org", "Bob")
    with pytest.raises(NotFound):
        follow_service.unfollow(db, bob, f.id)
    follow_service.unfollow(db, ada, f.id)
    assert len(follow_service.list_for(db, ada)) == 6


def test_incremental_matching_each_match_once(db: Database, settings: Settings) -> None:
    _store(db, _paper("2401.00001", "Seed", ["José García"], ["cs.CL"]))
    ada = _member(db)
    bob = _member(db, "bob@example.org", "Bob")
    follow_service.follow(db, settings, ada, "author", "José García")
    follow_service.follow(db, settings, ada, "search", '"graph neural" molecules -protein')
    follow_service.follow(db, settings, bob, "category", "cs")
    follow_service.follow(db, settings, bob, "paper_version", "2401.00001")
    assert match_new(db, settings).matches == 0  # what was there before the follows is old news
    _store(
        db,
        _paper("2402.00001", "New by Garcia", ["Jose Garcia"], ["math.AG"]),
        _paper(
            "2402.00002",
            "Graph neural nets for molecules",
            ["Zed"],
            ["q-bio.BM"],
            abstract="Graph neural networks on molecules.",
        ),
        _paper(
            "2402.00003",
            "Graph neural nets for protein molecules",
            ["Zed"],
            ["cs.LG"],
            abstract="Graph neural networks.",
        ),
        _paper("2402.00004", "Unrelated", ["Zed"], ["physics.optics"]),
        _paper("2401.00001", "Seed v2", ["José García"], ["cs.CL"], version=2),
    )
    report = match_new(db, settings)
    assert report.papers == 5
    assert _matched(db, ada) == {
        ("José García", "2402.00001"),
        ('"graph neural" molecules -protein', "2402.00002"),
    }
    with db.read() as conn:
        bobs = store_follows.matches_for(conn, bob.id)
    assert {(m.kind, m.paper_id, m.version) for m in bobs} == {
        ("category", "2402.00003", 0),
        ("paper_version", "2401.00001", 2),
    }
    # A second run, or the same papers changing again (a vote), matches nothing twice.
    assert match_new(db, settings).matches == 0
    _store(db, _paper("2402.00001", "New by Garcia (retitled)", ["Jose Garcia"], ["math.AG"]))
    assert match_new(db, settings).matches == 0
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(follow_matches)).scalar() == 4
        assert store_notes.unread_count(conn, ada.id) == 2
        texts = [n.text for n in store_notes.list_for(conn, ada.id)]
    assert any("New by Garcia" in t for t in texts)
    # Unfollowing removes the follow's matches; account deletion removes everything.
    with db.write() as conn:
        store_users.delete_user(conn, ada.id)
    with db.read() as conn:
        assert not store_follows.list_for(conn, ada.id)
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(notifications)
                .where(notifications.c.user_id == ada.id)
            ).scalar()
            == 0
        )


def test_collection_and_meaning_follows_match_by_vector(db: Database, settings: Settings) -> None:
    from paperfeed.search.embed import get_embedder, paper_text
    from paperfeed.search.vectors import to_bytes
    from paperfeed.store import vectors as store_vectors

    emb = get_embedder("hash:64")
    seed = _paper(
        "2401.00001",
        "Sparse attention transformers",
        ["A"],
        ["cs.CL"],
        abstract="Sparse attention.",
    )
    _store(db, seed)
    ada = _member(db)
    with db.write() as conn:
        col = store_library.get_or_create_collection(conn, ada.id, "Attention")
        store_library.save(conn, ada.id, seed.id, [col.id])

    def embed(*ps: Paper) -> None:
        vecs = emb.embed([paper_text(p.title, p.abstract) for p in ps])
        with db.write() as conn:
            rows = [(p.id, to_bytes(v), "h", 0) for p, v in zip(ps, vecs, strict=True)]
            store_vectors.save_vectors(conn, "hash:64", 64, rows)

    embed(seed)
    follow_service.follow(db, settings, ada, "collection", str(col.id))
    follow_service.follow(db, settings, ada, "search", "sparse attention", mode="meaning")
    near = _paper(
        "2402.00001",
        "Sparse attention transformers",
        ["B"],
        ["cs.CL"],
        abstract="Sparse attention.",
    )
    far = _paper(
        "2402.00002", "Quantum optics of crystals", ["C"], ["physics.optics"], abstract="Lasers."
    )
    _store(db, near, far)
    embed(near, far)
    match_new(db, settings)
    kinds = {(label, pid) for label, pid in _matched(db, ada)}
    assert ("Attention", "2402.00001") in kinds and ("sparse attention", "2402.00001") in kinds
    assert not any(pid == "2402.00002" for _, pid in kinds)


def test_replies_and_mentions_notify_once(db: Database, settings: Settings) -> None:
    _store(db, _paper("2401.00001", "Seed", ["A"], ["cs.CL"]))
    ada = _member(db)
    bob = _member(db, "bob@example.org", "Bob")
    cy = _member(db, "cy@example.org", "Cy")
    comment_service.add(db, settings, ada, "2401.00001", "First!")
    c: Comment = comment_service.add(
        db,
        settings,
        bob,
        "2401.00001",
        f"Agree, and @{cy.username} should see this (mail@{ada.username}.org is not one)",
    )
    comment_service.add(db, settings, ada, "2401.00001", f"@{ada.username} talking to myself")
    with db.read() as conn:
        ada_notes = store_notes.list_for(conn, ada.id)
        cy_notes = store_notes.list_for(conn, cy.id)
        bob_notes = store_notes.list_for(conn, bob.id)
    assert [n.kind for n in ada_notes] == ["reply"]
    assert [n.kind for n in cy_notes] == ["mention"] and c.paper_id == cy_notes[0].paper_id
    assert [n.kind for n in bob_notes] == ["reply"]  # Ada answered after Bob
    with db.write() as conn:
        assert store_notes.mark_read(conn, cy.id) == 1
        assert store_notes.unread_count(conn, cy.id) == 0


def test_author_follow_checks_the_authorship_index(db: Database, settings: Settings) -> None:
    _store(db, _paper("2401.00001", "Old", ["Grace Hopper", "Alan Turing"], ["cs.CL"]))
    ada = _member(db)
    f, new = follow_service.follow(db, settings, ada, "author", "grace  HOPPER")
    assert new and (f.target, f.label) == ("grace-hopper", "Grace Hopper")
    with pytest.raises(NotFound, match="no paper here is by"):
        follow_service.follow(db, settings, ada, "author", "Grace Hop")  # no substring match
    # The check reads paper_authors: a corrected author list changes who can be followed.
    _store(db, _paper("2401.00001", "Old", ["Grace Hopper", "Alan M. Turing"], ["cs.CL"]))
    with pytest.raises(NotFound, match="Alan Turing"):
        follow_service.follow(db, settings, ada, "author", "Alan Turing")
    assert follow_service.follow(db, settings, ada, "author", "Alan M. Turing")[1]
    with db.write() as conn:  # the index alone decides, not the papers' author text
        conn.execute(sa.delete(paper_authors).where(paper_authors.c.name == "Grace Hopper"))
    with pytest.raises(NotFound):
        follow_service.follow(
            db, settings, _member(db, "bob@example.org", "Bob"), "author", "Grace Hopper"
        )


def test_comment_on_claimed_paper_notifies_confirmed_author_once(
    db: Database, settings: Settings
) -> None:
    _store(db, _paper("2401.00001", "My result", ["Ada Lovelace", "Cy Young"], ["cs.CL"]))
    ada = _member(db)
    bob = _member(db, "bob@example.org", "Bob")
    cy = _member(db, "cy@example.org", "Cy")
    with db.write() as conn:
        for user, position, name in ((ada, 0, "Ada Lovelace"), (cy, 1, "Cy Young")):
            claim_id = store_claims.add_claim(
                conn,
                paper_id="2401.00001",
                position=position,
                user_id=user.id,
                name=name,
                slug=author_slug(name),
                orcid=None,
                at=NOW,
            )
            if user is ada:  # Cy's claim stays pending: no notices for an unconfirmed claim
                store_claims.decide(conn, claim_id, "confirmed", at=NOW)
    first = comment_service.add(db, settings, bob, "2401.00001", "How does this scale?")
    with db.read() as conn:
        ada_notes = store_notes.list_for(conn, ada.id)
        assert store_notes.list_for(conn, cy.id) == []  # pending claim
    assert [(n.kind, n.paper_id) for n in ada_notes] == [("claimed", "2401.00001")]
    assert "Bob commented on your paper" in ada_notes[0].text and first.id > 0
    comment_service.add(db, settings, ada, "2401.00001", "Author here: linearly.")
    with db.read() as conn:
        assert len(store_notes.list_for(conn, ada.id)) == 1  # not for my own comment
    # Claimed author, earlier commenter and mentioned: still one notification for the comment.
    comment_service.add(db, settings, bob, "2401.00001", f"Thanks @{ada.username}!")
    with db.read() as conn:
        assert [n.kind for n in store_notes.list_for(conn, ada.id)] == ["mention", "claimed"]


def test_notifications_page_count_and_mark_read(tmp_path: object) -> None:
    from pathlib import Path

    from _community_helpers import csrf
    from _pages_helpers import MEMBER, pages_site, signed_in_client

    with pages_site(Path(str(tmp_path))) as site:
        with site.db.write() as conn:
            uid = store_users.get_by_email(conn, MEMBER)
            assert uid is not None
            store_notes.add_many(
                conn,
                [(uid.id, "match:1", "match", "2405.00001", "New for cs.LG: <b>“A paper”</b>")],
            )
        client = signed_in_client(site, MEMBER)
        page = client.get("/notifications")
        assert page.status_code == 200
        assert "&lt;b&gt;" in page.text and "<b>“A" not in page.text  # escaped
        assert 'Notifications <span class="badge">1' in page.text
        token = csrf(client, "/notifications")
        done = client.post("/notifications/read", data={"csrf_token": token}, follow_redirects=True)
        assert done.status_code == 200 and "All caught up." in done.text
        assert "Notifications <span" not in done.text
        assert client.post("/notifications/read", data={}).status_code == 403  # CSRF
        visitor = signed_in_client(site, None)
        assert visitor.get("/notifications", follow_redirects=False).status_code == 303


def test_follow_buttons_and_settings_page(tmp_path: object) -> None:
    from pathlib import Path

    from _community_helpers import csrf
    from _pages_helpers import MEMBER, pages_site, signed_in_client

    with pages_site(Path(str(tmp_path))) as site:
        client = signed_in_client(site, MEMBER)
        paper = client.get("/papers/2405.00001")
        assert "Follow new versions" in paper.text
        search = client.get("/search?q=cat:cs.CL")
        assert "Follow this search" in search.text
        token = csrf(client, "/settings/follows")
        form = {"csrf_token": token, "kind": "paper_version", "target": "2405.00001"}
        done = client.post(
            "/follow", data={**form, "next": "/papers/2405.00001"}, follow_redirects=True
        )
        assert "Unfollow new versions" in done.text and "Followed:" in done.text
        bad = client.post("/follow", data={**form, "kind": "search", "target": "x year:abc"})
        assert bad.status_code == 400 and "not valid" in bad.text
        listed = client.get("/settings/follows")
        assert "New versions of a paper" in listed.text and "1 of at most 5000" in listed.text
        gone = client.post("/follow", data={**form, "action": "unfollow"}, follow_redirects=True)
        assert "Unfollowed." in gone.text and "You follow nothing yet" in gone.text
        assert client.post("/follow", data={"kind": "x"}).status_code == 403  # CSRF


def test_private_feed_lists_matches_and_is_revocable(tmp_path: object) -> None:
    import re
    from html import unescape
    from pathlib import Path

    import feedparser
    from _community_helpers import csrf
    from _pages_helpers import MEMBER, pages_site, signed_in_client

    with pages_site(Path(str(tmp_path))) as site:
        with site.db.write() as conn:
            me = store_users.get_by_email(conn, MEMBER)
            assert me is not None
            f, _ = store_follows.add(conn, me.id, "category", "cs.lg", "cs.LG")
            store_follows.record_matches(conn, [(f.id, me.id, "2405.00001", 0)])
        client = signed_in_client(site, MEMBER)
        page = client.get("/settings/follows").text
        found = re.search(r'href="(/feeds/follows\.atom\?[^"]+)"', page)
        assert found
        url = unescape(found.group(1))
        reader = signed_in_client(site, None)  # a feed reader has no cookie
        got = reader.get(url)
        assert got.status_code == 200 and "private" in got.headers["cache-control"]
        feed = feedparser.parse(got.content)
        assert not feed.bozo and [e.link.rsplit("/", 1)[-1] for e in feed.entries] == ["2405.00001"]
        assert "New for cs.LG" in feed.entries[0].summary
        token = csrf(client, "/settings/follows")
        client.post("/settings/follows/feed", data={"csrf_token": token})
        assert reader.get(url).status_code == 404  # revoked
        assert reader.get("/feeds/follows.atom?member=1&token=x").status_code == 404


def test_digest_has_a_section_per_follow_and_never_repeats(
    db: Database, settings: Settings
) -> None:
    from paperfeed.digest.compose import compose_due
    from paperfeed.store import subscriptions as store_subs

    _store(db, _paper("2401.00001", "Seed", ["Ada Writer"], ["cs.CL", "math.CO"]))
    ada = _member(db)
    follow_service.follow(db, settings, ada, "author", "Ada Writer")
    follow_service.follow(db, settings, ada, "category", "math")
    _store(
        db,
        _paper("2402.00001", "By Ada", ["Ada Writer"], ["cs.CL"]),
        _paper("2402.00002", "Algebra", ["Zed"], ["math.AG"]),
    )
    match_new(db, settings)
    with db.write() as conn:
        store_subs.subscribe_member(
            conn,
            ada.id,
            ada.email,
            unsubscribe_token="t" * 20,
            frequency="daily",
            sections=["follows"],
            timezone="UTC",
            hour=0,
        )
    now = datetime.now().replace(microsecond=0)
    first = compose_due(db, settings, now=now + timedelta(days=3), dry_run=True)
    sections = {s["title"]: [i["id"] for i in s["items"]] for s in first.preview[0].sections}
    assert sections == {"New for Ada Writer": ["2402.00001"], "New for math": ["2402.00002"]}
    report = compose_due(db, settings, now=now + timedelta(days=3))
    assert report.created == 1
    again = compose_due(db, settings, now=now + timedelta(days=4), dry_run=True)
    assert all(not c.sections for c in again.preview)  # each match mailed once


def test_each_match_queues_one_chat_alert_per_channel(db: Database, settings: Settings) -> None:
    from paperfeed.store import chat as store_chat
    from paperfeed.store.schema import chat_outbox

    _store(db, _paper("2401.00001", "Seed", ["Ada Writer"], ["cs.CL"]))
    ada = _member(db)
    follow_service.follow(db, settings, ada, "author", "Ada Writer")
    with db.write() as conn:
        for label in ("one", "two"):
            store_chat.add_channel(conn, ada.id, f"json://127.0.0.1:9/{label}", label)
    _store(db, _paper("2402.00001", "By Ada", ["Ada Writer"], ["cs.CL"]))
    match_new(db, settings)
    match_new(db, settings)
    with db.read() as conn:
        rows = conn.execute(sa.select(chat_outbox.c.dedupe_key)).scalars().all()
    assert len(rows) == 2 and len(set(rows)) == 1

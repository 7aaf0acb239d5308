"""Library and recommendation-cache store contract, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from _recommend_helpers import member, seed, topic_id

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.store import Database
from paperfeed.store import library as lib
from paperfeed.store import recommendations as recs
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store
from paperfeed.store.papers import set_hidden


def test_collections_are_per_member_and_case_insensitive(db: Database) -> None:
    seed(db, 3)
    a, b = member(db, "a@example.org"), member(db, "b@example.org")
    with db.write() as conn:
        rl = lib.get_or_create_collection(conn, a.id, "  Reinforcement   Learning ")
        again = lib.get_or_create_collection(conn, a.id, "reinforcement learning")
        other = lib.get_or_create_collection(conn, b.id, "Reinforcement Learning")
        with pytest.raises(InvalidInput):
            lib.get_or_create_collection(conn, a.id, "   ")
        with pytest.raises(InvalidInput):
            lib.get_or_create_collection(conn, a.id, "x" * 101)
    assert rl.id == again.id and rl.name == "Reinforcement Learning"
    assert other.id != rl.id
    with db.read() as conn:
        assert lib.find_collection(conn, a.id, "REINFORCEMENT learning") == rl
        assert lib.find_collection(conn, a.id, str(rl.id)) == rl
        assert lib.find_collection(conn, a.id, other.id) is None  # not a's


def test_save_into_several_collections_and_unsave(db: Database) -> None:
    seed(db, 3)
    u = member(db)
    pid = topic_id("rl", 0)
    with db.write() as conn:
        c1 = lib.get_or_create_collection(conn, u.id, "RL")
        c2 = lib.get_or_create_collection(conn, u.id, "To read")
        assert lib.save(conn, u.id, pid, [c1.id, c2.id]) == 2
        assert lib.save(conn, u.id, pid, [c1.id]) == 0  # a repeat changes nothing
        with pytest.raises(NotFound):
            lib.save(conn, u.id, "2601.99999", [c1.id])
    with db.read() as conn:
        cols = {c.name: c.size for c in lib.list_collections(conn, u.id)}
        assert cols == {"RL": 1, "To read": 1}
        assert sorted(lib.collections_of(conn, u.id, [pid])[pid]) == sorted([c1.id, c2.id])
        assert lib.saved_ids(conn, u.id) == {pid}
        rev = lib.library_rev(conn, u.id)
    with db.write() as conn:
        assert lib.unsave(conn, u.id, pid, c1.id) == 1
    with db.read() as conn:
        assert [i.collection for i in lib.items(conn, u.id)] == ["To read"]
        assert lib.library_rev(conn, u.id) > rev
    with db.write() as conn:
        assert lib.delete_collection(conn, u.id, c2.id)
    with db.read() as conn:
        assert lib.items(conn, u.id) == [] and lib.saved_ids(conn, u.id) == set()


def test_hide_is_undone_by_saving_and_changes_the_profile_key(db: Database) -> None:
    seed(db, 3)
    u = member(db)
    pid = topic_id("astro", 1)
    with db.read() as conn:
        k0 = lib.profile_key(conn, u.id)
    with db.write() as conn:
        assert lib.hide(conn, u.id, pid)
        assert not lib.hide(conn, u.id, pid)
    with db.read() as conn:
        assert lib.hidden_ids(conn, u.id) == {pid}
        k1 = lib.profile_key(conn, u.id)
    assert k1 != k0
    with db.write() as conn:
        col = lib.get_or_create_collection(conn, u.id, "Saved")
        lib.save(conn, u.id, pid, [col.id])
    with db.read() as conn:
        assert lib.hidden_ids(conn, u.id) == set()
        k2 = lib.profile_key(conn, u.id)
    with db.write() as conn:
        vote_store.add_vote(conn, u.id, topic_id("rl", 2))
    with db.read() as conn:
        assert lib.profile_key(conn, u.id) not in (k0, k1, k2)  # upvotes are positives too
        assert [i.paper_id for i in lib.upvoted_items(conn, u.id)] == [topic_id("rl", 2)]
        assert lib.members_with_library(conn) == [u.id]


def test_save_many_reports_only_new_papers(db: Database) -> None:
    seed(db, 4)
    u = member(db)
    ids = [topic_id("vision", i) for i in range(4)]
    with db.write() as conn:
        col = lib.get_or_create_collection(conn, u.id, "Imported")
        assert lib.save_many(conn, u.id, col.id, ids[:2], source="import") == set(ids[:2])
        assert lib.save_many(conn, u.id, col.id, ids, source="import") == set(ids[2:])
    with db.read() as conn:
        assert {i.source for i in lib.items(conn, u.id, col.id)} == {"import"}
        assert len(lib.items(conn, u.id, col.id)) == 4


def test_impressions_count_and_shown_on(db: Database) -> None:
    seed(db, 2)
    u = member(db)
    a, b = topic_id("rl", 0), topic_id("rl", 1)
    with db.write() as conn:
        lib.record_impressions(conn, u.id, [a, b, a])
        lib.record_impressions(conn, u.id, [a])
    with db.read() as conn:
        assert lib.impressions(conn, u.id) == {a: 2, b: 1}
        assert lib.shown_on(conn, u.id, datetime.now(UTC).date()) == {a, b}


def test_lookup_by_doi_title_and_id_skips_hidden_papers(db: Database) -> None:
    papers = seed(db, 2)
    p0, p1 = papers[0], papers[1]
    with db.write() as conn:
        set_hidden(conn, p1.id, True)
    with db.read() as conn:
        assert lib.find_by_dois(conn, [p0.doi.upper(), p1.doi]) == {p0.doi: p0.id}
        got = lib.find_by_titles(conn, [p0.title.lower(), p1.title.lower()])
        assert got == {p0.title.lower(): [(p0.id, p0.title)]}
        assert lib.existing_ids(conn, [p0.id, p1.id, "2601.99999"]) == {p0.id}


def test_recommendation_cache_replace_and_hidden_papers_drop(db: Database) -> None:
    seed(db, 3)
    u = member(db)
    rows = [
        recs.StoredRec(topic_id("rl", i), 1.0 - i / 10, {"near": [topic_id("rl", 0)]})
        for i in range(3)
    ]
    with db.write() as conn:
        recs.replace(
            conn,
            u.id,
            "",
            rows,
            profile_key="r1",
            corpus_rev=7,
            method="model",
            positives=3,
            negatives=9,
        )
        recs.replace(
            conn,
            u.id,
            "",
            rows,
            profile_key="r2",
            corpus_rev=8,
            method="model",
            positives=3,
            negatives=9,
        )
        set_hidden(conn, topic_id("rl", 1), True)
    with db.read() as conn:
        run = recs.get_run(conn, u.id, "")
        got = recs.get(conn, u.id, "")
    assert run is not None and (run.profile_key, run.corpus_rev) == ("r2", 8)
    assert [r.paper_id for r in got] == [topic_id("rl", 0), topic_id("rl", 2)]
    assert got[0].reason == {"near": [topic_id("rl", 0)]}


def test_deleting_a_member_deletes_their_library(db: Database) -> None:
    seed(db, 2)
    u = member(db)
    with db.write() as conn:
        col = lib.get_or_create_collection(conn, u.id, "RL")
        lib.save(conn, u.id, topic_id("rl", 0), [col.id])
        lib.hide(conn, u.id, topic_id("rl", 1))
        lib.record_impressions(conn, u.id, [topic_id("astro", 0)])
        recs.replace(
            conn,
            u.id,
            "",
            [recs.StoredRec(topic_id("astro", 0), 1.0)],
            profile_key="x",
            corpus_rev=0,
            method="model",
            positives=1,
            negatives=0,
        )
    with db.write() as conn:
        assert user_store.delete_user(conn, u.id)
    with db.read() as conn:
        assert lib.list_collections(conn, u.id) == []
        assert lib.hidden_ids(conn, u.id) == set()
        assert recs.get(conn, u.id, "") == []
        assert lib.members_with_library(conn) == []

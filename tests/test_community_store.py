"""Store contract tests for community tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from paperfeed.errors import Conflict, NotFound
from paperfeed.models import Paper, Signal
from paperfeed.store import Database
from paperfeed.store import comments as comment_store
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store
from paperfeed.store import sessions as session_store
from paperfeed.store import signals as signal_store
from paperfeed.store import submissions as submission_store
from paperfeed.store import trending as trending_store
from paperfeed.store import users as user_store
from paperfeed.store import votes as vote_store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _paper(pid: str, upvotes: int = 0) -> Paper:
    return Paper(id=pid, title=f"Paper {pid}", abstract="x", authors=["A"], upvotes=upvotes)


@pytest.fixture
def seeded(db: Database) -> Database:
    with db.write() as conn:
        paper_store.upsert_papers(conn, [_paper("2401.00001", 5), _paper("2401.00002")])
    return db


def test_email_unique_ignoring_case_and_usernames_unique(db: Database) -> None:
    with db.write() as conn:
        a = user_store.create_user(conn, "Ada@Example.org", "Ada L")
        with pytest.raises(Conflict):
            user_store.create_user(conn, "ada@example.ORG ", "Other")
        b = user_store.create_user(conn, "ada2@example.org", "Ada L")
    assert a.username == "ada-l" and b.username == "ada-l-2"
    with db.read() as conn:
        got = user_store.get_by_email(conn, "ADA@example.org")
    assert got is not None and got.id == a.id and got.email == "Ada@Example.org"
    assert got.role == "member" and not got.verified


def test_sessions_are_stored_hashed_and_end_on_delete(db: Database) -> None:
    with db.write() as conn:
        u = user_store.create_user(conn, "s@example.org", "S", verified=True)
        token = session_store.create_session(conn, u.id, days=1)
    with db.read() as conn:
        raw = conn.exec_driver_sql("SELECT token_hash FROM sessions").scalar_one()
        assert raw != token and raw == session_store.token_hash(token)
        user = session_store.session_user(conn, token)
        assert user is not None and user.id == u.id
        assert session_store.session_user(conn, token + "x") is None
    with db.write() as conn:
        assert session_store.delete_session(conn, token)
    with db.read() as conn:
        assert session_store.session_user(conn, token) is None


def test_tokens_are_single_use_and_expire(db: Database) -> None:
    with db.write() as conn:
        u = user_store.create_user(conn, "t@example.org", "T")
        live = session_store.create_token(conn, u.id, "login", minutes=10)
        dead = session_store.create_token(conn, u.id, "login", minutes=-1)
    with db.write() as conn:
        assert session_store.peek_token(conn, live, "login") is not None
        assert session_store.consume_token(conn, live, "verify") is None  # wrong kind
        first = session_store.consume_token(conn, live, "login")
        assert first is not None and first[0].id == u.id
        assert session_store.consume_token(conn, live, "login") is None  # replay
        assert session_store.consume_token(conn, dead, "login") is None  # expired


def test_votes_keep_counter_and_reject_hidden(seeded: Database) -> None:
    db = seeded
    with db.write() as conn:
        u = user_store.create_user(conn, "v@example.org", "V")
        w = user_store.create_user(conn, "w@example.org", "W")
        assert vote_store.add_vote(conn, u.id, "2401.00001")
        assert not vote_store.add_vote(conn, u.id, "2401.00001")  # one per member
        assert vote_store.add_vote(conn, w.id, "2401.00001")
    with db.read() as conn:
        assert vote_store.upvotes_of(conn, "2401.00001") == 7  # 5 imported + 2
        assert vote_store.voted(conn, u.id, ["2401.00001", "2401.00002"]) == {"2401.00001"}
    with db.write() as conn:
        assert vote_store.remove_vote(conn, u.id, "2401.00001")
        assert not vote_store.remove_vote(conn, u.id, "2401.00001")
        paper_store.set_hidden(conn, "2401.00002", True)
    with pytest.raises(NotFound), db.write() as conn:
        vote_store.add_vote(conn, u.id, "2401.00002")
    with pytest.raises(NotFound), db.write() as conn:
        vote_store.add_vote(conn, u.id, "9999.99999")
    with db.read() as conn:
        assert vote_store.upvotes_of(conn, "2401.00001") == 6
        assert vote_store.count_votes(conn, "2401.00002") == 0
        before = paper_store.max_rev(conn)
    with db.write() as conn:
        vote_store.add_vote(conn, u.id, "2401.00001")
    with db.read() as conn:
        # A vote gives the paper a new change number, so derived indexes re-read its upvotes.
        changed = paper_store.changed_since(conn, before)
    assert [(p.id, p.upvotes) for _, p, _ in changed] == [("2401.00001", 7)]


def test_comments_edit_soft_delete_and_count(seeded: Database) -> None:
    db = seeded
    with db.write() as conn:
        u = user_store.create_user(conn, "c@example.org", "C <b>")
        c = comment_store.add_comment(conn, "2401.00001", u.id, "first")
        comment_store.add_comment(conn, "2401.00001", u.id, "second")
        assert comment_store.edit_comment(conn, c.id, "first, edited")
    with db.read() as conn:
        got = comment_store.list_comments(conn, "2401.00001")
        p = paper_store.get_paper(conn, "2401.00001")
    assert [x.body for x in got] == ["first, edited", "second"]
    assert got[0].edited_at is not None and got[0].author_name == "C <b>"
    assert p is not None and p.num_comments == 2
    with db.write() as conn:
        assert comment_store.delete_comment(conn, c.id)
        assert not comment_store.delete_comment(conn, c.id)
        assert not comment_store.edit_comment(conn, c.id, "back")
    with db.read() as conn:
        got = comment_store.list_comments(conn, "2401.00001")
        p = paper_store.get_paper(conn, "2401.00001")
    assert got[0].deleted_at is not None and got[0].body == ""
    assert p is not None and p.num_comments == 1


def test_submissions_one_per_paper_and_feature(seeded: Database) -> None:
    db = seeded
    today = _now().date()
    with db.write() as conn:
        u = user_store.create_user(conn, "sub@example.org", "Sub")
        submission_store.add_submission(conn, "2401.00002", u.id, u.username, day=today)
    with pytest.raises(Conflict), db.write() as conn:
        submission_store.add_submission(conn, "2401.00002", u.id, u.username, day=today)
    with db.read() as conn:
        items = feed_store.feed_between(conn, today, today)
        assert [(i.paper.id, i.submitted_by) for i in items] == [("2401.00002", "sub")]
        assert submission_store.count_since(conn, u.id, _now() - timedelta(hours=1)) == 1
        sub = submission_store.submission_of(conn, "2401.00002")
        assert sub is not None and sub[0] == "sub"
    with db.write() as conn:
        submission_store.feature(conn, "2401.00001", today, "curator1")
        assert submission_store.unfeature(conn, "2401.00002") == 1
    with db.read() as conn:
        items = feed_store.feed_between(conn, today, today)
    assert [i.paper.id for i in items] == ["2401.00001"]


def test_delete_user_removes_votes_comments_and_keeps_counts(seeded: Database) -> None:
    db = seeded
    today = _now().date()
    with db.write() as conn:
        u = user_store.create_user(conn, "gone@example.org", "Gone", verified=True)
        vote_store.add_vote(conn, u.id, "2401.00001")
        comment_store.add_comment(conn, "2401.00001", u.id, "bye")
        session_store.create_session(conn, u.id, days=1)
        submission_store.add_submission(conn, "2401.00002", u.id, u.username, day=today)
    with db.write() as conn:
        assert user_store.delete_user(conn, u.id)
    with db.read() as conn:
        p = paper_store.get_paper(conn, "2401.00001")
        assert p is not None and p.upvotes == 5 and p.num_comments == 0
        assert comment_store.list_comments(conn, "2401.00001") == []
        assert user_store.get_by_email(conn, "gone@example.org") is None
        entries = feed_store.entries_for(conn, "2401.00002")
        assert entries and entries[0].submitted_by is None


def test_trending_inputs_and_scores_roundtrip(seeded: Database) -> None:
    db = seeded
    now = _now()
    with db.write() as conn:
        feed_store.add_entries(
            conn, [feed_store.FeedEntry("2401.00001", date(2024, 1, 2), None, None, "import")]
        )
        signal_store.add_signals(
            conn,
            [
                Signal("2401.00002", "github_stars", 10, now - timedelta(days=30)),
                Signal("2401.00002", "github_stars", 50, now - timedelta(days=1)),
                Signal("2401.00002", "github_stars", 80, now - timedelta(hours=1)),
            ],
        )
        u = user_store.create_user(conn, "tr@example.org", "Tr")
        vote_store.add_vote(conn, u.id, "2401.00002", at=now - timedelta(hours=2))
    with db.read() as conn:
        assert trending_store.featured_upvotes_since(conn, date(2024, 1, 1)) == [
            ("2401.00001", date(2024, 1, 2), 5)
        ]
        series = trending_store.star_series_since(conn, now - timedelta(days=7))
        assert [v for _, v in series["2401.00002"]] == [10, 50, 80]  # baseline first
        assert vote_store.votes_since(conn, now - timedelta(days=1))[0][0] == "2401.00002"
    from paperfeed.models import TrendingScore

    with db.write() as conn:
        trending_store.replace_scores(
            conn,
            [
                TrendingScore("2401.00001", 1.0, 0, 0.0, now),
                TrendingScore("2401.00002", 3.0, 1, 70.0, now),
            ],
        )
        paper_store.set_hidden(conn, "2401.00001", True)
    with db.read() as conn:
        top = trending_store.top(conn)
        assert [(i.paper.id, s.votes_24h) for i, s in top] == [("2401.00002", 1)]
        assert trending_store.count(conn) == 1

"""Curating the feed: feature, un-feature, hide or show a paper (curators and admins)."""

from __future__ import annotations

from datetime import date

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.models import User
from paperfeed.service.members import check_confirmed, check_curator
from paperfeed.service.papers import member_paper_id
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.store import submissions as submission_store


def curate(db: Database, user: User, paper_id: str, action: str, *, today: date) -> str:
    """Apply a curator's action to a paper; returns the paper's canonical id."""
    check_curator(check_confirmed(user))
    pid = member_paper_id(db, paper_id)
    if not pid:
        raise InvalidInput("no such paper")
    with db.write() as conn:
        if paper_store.get_paper(conn, pid, include_hidden=True) is None:
            raise NotFound(f"no paper {pid} in this feed")
        if action == "feature":
            submission_store.feature(conn, pid, today, user.username)
        elif action == "unfeature":
            submission_store.unfeature(conn, pid)
        elif action in ("hide", "show"):
            paper_store.set_hidden(conn, pid, action == "hide")
        else:
            raise InvalidInput("action must be feature, unfeature, hide or show")
    return pid

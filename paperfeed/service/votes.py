"""Upvoting a paper and taking the upvote back."""

from __future__ import annotations

from dataclasses import dataclass

from paperfeed.errors import InvalidInput
from paperfeed.models import User
from paperfeed.service.members import check_confirmed
from paperfeed.service.papers import member_paper_id
from paperfeed.store import Database
from paperfeed.store import votes as vote_store


@dataclass(frozen=True, slots=True)
class VoteResult:
    """A paper's upvote count after a member's vote, and whether the member's upvote stands."""

    paper_id: str
    upvotes: int
    voted: bool


def vote(db: Database, user: User, paper_id: str, action: str = "up") -> VoteResult:
    """Add (action "up") or remove ("remove") the member's upvote on a paper."""
    check_confirmed(user)
    pid = member_paper_id(db, paper_id)
    if not pid:
        raise InvalidInput("no such paper to vote on")
    with db.write() as conn:
        if action == "remove":
            vote_store.remove_vote(conn, user.id, pid)
            voted = False
        elif action == "up":
            vote_store.add_vote(conn, user.id, pid)
            voted = True
        else:
            raise InvalidInput("action must be up or remove")
        upvotes = vote_store.upvotes_of(conn, pid)
    return VoteResult(pid, upvotes, voted)

"""What a member has told us: positives (saved, imported, upvoted), negatives and what to skip."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Connection

from paperfeed.store import library as store_library

OVERALL = ""


@dataclass(slots=True)
class Positive:
    """A paper the member likes, when they said so, and the collections it is in."""

    paper_id: str
    at: datetime
    collections: list[str] = field(default_factory=list)
    upvoted: bool = False


@dataclass(slots=True)
class Profile:
    """One member's examples for one scope (everything, or one collection)."""

    user_id: int
    scope: str
    collection: str | None  # the collection's name for a collection scope
    positives: list[Positive]
    hidden: list[str]  # "not interested": explicit negatives
    exclude: set[str]  # never recommend: saved anywhere, upvoted, hidden, seen too often


def scope_for(collection_id: int | None) -> str:
    """The cache scope of a collection ("c12"), or of all positives ("")."""
    return OVERALL if collection_id is None else f"c{collection_id}"


def collection_of_scope(scope: str) -> int | None:
    """The collection id of a scope, or None for the overall scope."""
    return int(scope[1:]) if scope.startswith("c") and scope[1:].isdigit() else None


def load_profile(conn: Connection, user_id: int, scope: str, *, max_impressions: int) -> Profile:
    """Read a member's library into a Profile for a scope."""
    cid = collection_of_scope(scope)
    saved = store_library.items(conn, user_id)
    votes = store_library.upvoted_items(conn, user_id)
    hidden = [p for p, _ in store_library.hidden_items(conn, user_id)]
    seen = {p for p, n in store_library.impressions(conn, user_id).items() if n >= max_impressions}
    exclude = {i.paper_id for i in saved} | {v.paper_id for v in votes} | set(hidden) | seen
    by_id: dict[str, Positive] = {}
    name: str | None = None
    for it in saved:
        if cid is not None and it.collection_id != cid:
            continue
        if cid is not None:
            name = it.collection
        pos = by_id.setdefault(it.paper_id, Positive(it.paper_id, it.created_at))
        pos.at = max(pos.at, it.created_at)
        if it.collection and it.collection not in pos.collections:
            pos.collections.append(it.collection)
    if cid is None:
        for v in votes:
            pos = by_id.setdefault(v.paper_id, Positive(v.paper_id, v.created_at))
            pos.upvoted = True
    else:
        # Other collections' placements name the paper in explanations too.
        for it in saved:
            if (
                it.paper_id in by_id
                and it.collection
                and it.collection not in by_id[it.paper_id].collections
            ):
                by_id[it.paper_id].collections.append(it.collection)
        if name is None:
            col = store_library.find_collection(conn, user_id, cid)
            name = col.name if col else None
    return Profile(user_id, scope, name, list(by_id.values()), hidden, exclude)

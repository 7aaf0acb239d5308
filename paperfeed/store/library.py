"""A member's library: named collections of saved papers, hidden papers and impressions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.normalize import parse_row_id
from paperfeed.store.db import insert_for
from paperfeed.store.schema import (
    library_collections,
    library_hidden,
    library_impressions,
    library_items,
    library_state,
    papers,
    votes,
)

NAME_MAX = 100
DEFAULT_COLLECTION = "Saved"
_CHUNK = 500


@dataclass(slots=True, frozen=True)
class Collection:
    """A named collection of one member, with how many papers it holds."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    size: int = 0


@dataclass(slots=True, frozen=True)
class LibraryItem:
    """A paper in one of a member's collections (or upvoted: collection_id None)."""

    paper_id: str
    collection_id: int | None
    collection: str | None
    source: str  # save | import | vote
    created_at: datetime


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def clean_name(name: str) -> str:
    """A collection name with white space collapsed; InvalidInput when empty or too long."""
    name = " ".join("".join(c for c in name if c >= " ").split())
    if not name:
        raise InvalidInput("give the collection a name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"collection names may have at most {NAME_MAX} characters")
    return name


def _bump(conn: Connection, user_id: int) -> None:
    """Advance the member's library revision so cached recommendations are recomputed."""
    stmt = insert_for(conn, library_state).values(user_id=user_id, rev=1, updated_at=_now())
    stmt = stmt.on_conflict_do_update(
        index_elements=[library_state.c.user_id],
        set_={"rev": library_state.c.rev + 1, "updated_at": stmt.excluded.updated_at},
    )
    conn.execute(stmt)


def library_rev(conn: Connection, user_id: int) -> int:
    """The member's library revision (0 before any change)."""
    q = sa.select(library_state.c.rev).where(library_state.c.user_id == user_id)
    return int(conn.execute(q).scalar_one_or_none() or 0)


def profile_key(conn: Connection, user_id: int) -> str:
    """A fingerprint of everything a member's recommendations depend on: library and upvotes."""
    n, last = conn.execute(
        sa.select(sa.func.count(), sa.func.max(votes.c.created_at)).where(
            votes.c.user_id == user_id
        )
    ).one()
    stamp = last.isoformat(timespec="seconds") if last else "-"
    return f"r{library_rev(conn, user_id)}:v{int(n)}:{stamp}"[:64]


def _collection(row: sa.Row[tuple[object, ...]], size: int = 0) -> Collection:
    return Collection(int(row.id), int(row.user_id), row.name, row.created_at, size)


def get_or_create_collection(conn: Connection, user_id: int, name: str) -> Collection:
    """The member's collection of that name (ignoring case), created when missing."""
    name = clean_name(name)
    key = name.lower()
    stmt = (
        insert_for(conn, library_collections)
        .values(user_id=user_id, name=name, name_key=key, created_at=_now())
        .on_conflict_do_nothing()
    )
    conn.execute(stmt)
    row = conn.execute(
        sa.select(library_collections).where(
            library_collections.c.user_id == user_id, library_collections.c.name_key == key
        )
    ).one()
    return _collection(row)


def find_collection(conn: Connection, user_id: int, name_or_id: str | int) -> Collection | None:
    """One of the member's collections by id or by name (ignoring case), or None."""
    q = sa.select(library_collections).where(library_collections.c.user_id == user_id)
    col_id = name_or_id if isinstance(name_or_id, int) else parse_row_id(name_or_id)
    if col_id is not None:
        by_id = conn.execute(q.where(library_collections.c.id == col_id)).first()
        if by_id is not None:
            return _collection(by_id)
    key = " ".join(str(name_or_id).split()).lower()
    row = conn.execute(q.where(library_collections.c.name_key == key)).first()
    return _collection(row) if row else None


def list_collections(conn: Connection, user_id: int) -> list[Collection]:
    """The member's collections with their sizes, by name."""
    size = (
        sa.select(library_items.c.collection_id, sa.func.count().label("n"))
        .where(library_items.c.user_id == user_id)
        .group_by(library_items.c.collection_id)
        .subquery()
    )
    q = (
        sa.select(library_collections, sa.func.coalesce(size.c.n, 0).label("n"))
        .select_from(
            library_collections.outerjoin(size, size.c.collection_id == library_collections.c.id)
        )
        .where(library_collections.c.user_id == user_id)
        .order_by(library_collections.c.name_key)
    )
    return [_collection(r, int(r.n)) for r in conn.execute(q)]


def delete_collection(conn: Connection, user_id: int, collection_id: int) -> bool:
    """Delete a collection and its saved items (papers saved elsewhere stay there)."""
    conn.execute(
        sa.delete(library_items).where(
            library_items.c.user_id == user_id, library_items.c.collection_id == collection_id
        )
    )
    res = conn.execute(
        sa.delete(library_collections).where(
            library_collections.c.user_id == user_id, library_collections.c.id == collection_id
        )
    )
    if res.rowcount:
        _bump(conn, user_id)
    return bool(res.rowcount)


def _check_paper(conn: Connection, paper_id: str) -> None:
    hidden = conn.execute(sa.select(papers.c.hidden).where(papers.c.id == paper_id)).first()
    if hidden is None or hidden[0]:
        raise NotFound(f"paper {paper_id} does not exist or is hidden")


def save(
    conn: Connection,
    user_id: int,
    paper_id: str,
    collection_ids: Sequence[int],
    *,
    source: str = "save",
    at: datetime | None = None,
) -> int:
    """Put a paper into some of the member's collections; returns how many placements are new."""
    _check_paper(conn, paper_id)
    own = {
        r[0]
        for r in conn.execute(
            sa.select(library_collections.c.id).where(
                library_collections.c.user_id == user_id,
                library_collections.c.id.in_(list(collection_ids)),
            )
        )
    }
    added = 0
    for cid in dict.fromkeys(collection_ids):
        if cid not in own:
            raise NotFound(f"collection {cid} does not exist")
        stmt = (
            insert_for(conn, library_items)
            .values(
                user_id=user_id,
                paper_id=paper_id,
                collection_id=cid,
                source=source,
                created_at=at or _now(),
            )
            .on_conflict_do_nothing()
            .returning(library_items.c.paper_id)
        )
        if conn.execute(stmt).first() is not None:
            added += 1
    if added:
        # Saving something is the opposite of "not interested".
        conn.execute(
            sa.delete(library_hidden).where(
                library_hidden.c.user_id == user_id, library_hidden.c.paper_id == paper_id
            )
        )
        _bump(conn, user_id)
    return added


def save_many(
    conn: Connection, user_id: int, collection_id: int, paper_ids: Sequence[str], *, source: str
) -> set[str]:
    """Put known papers into one collection in bulk; returns the ids that were new there."""
    ids = list(dict.fromkeys(paper_ids))
    have = {
        r[0]
        for r in conn.execute(
            sa.select(library_items.c.paper_id).where(
                library_items.c.user_id == user_id, library_items.c.collection_id == collection_id
            )
        )
    }
    new = [p for p in ids if p not in have]
    now = _now()
    for i in range(0, len(new), _CHUNK):
        conn.execute(
            library_items.insert(),
            [
                {
                    "user_id": user_id,
                    "paper_id": p,
                    "collection_id": collection_id,
                    "source": source,
                    "created_at": now,
                }
                for p in new[i : i + _CHUNK]
            ],
        )
    if new:
        _bump(conn, user_id)
    return set(new)


def unsave(conn: Connection, user_id: int, paper_id: str, collection_id: int | None = None) -> int:
    """Take a paper out of one collection (or all); returns how many placements went."""
    q = sa.delete(library_items).where(
        library_items.c.user_id == user_id, library_items.c.paper_id == paper_id
    )
    if collection_id is not None:
        q = q.where(library_items.c.collection_id == collection_id)
    n = int(conn.execute(q).rowcount or 0)
    if n:
        _bump(conn, user_id)
    return n


def items(conn: Connection, user_id: int, collection_id: int | None = None) -> list[LibraryItem]:
    """The member's saved papers (in one collection, or all placements), newest first."""
    j = library_items.join(
        library_collections, library_collections.c.id == library_items.c.collection_id
    )
    q = (
        sa.select(
            library_items.c.paper_id,
            library_items.c.collection_id,
            library_collections.c.name,
            library_items.c.source,
            library_items.c.created_at,
        )
        .select_from(j)
        .where(library_items.c.user_id == user_id)
        .order_by(library_items.c.created_at.desc(), library_items.c.paper_id)
    )
    if collection_id is not None:
        q = q.where(library_items.c.collection_id == collection_id)
    return [
        LibraryItem(r.paper_id, int(r.collection_id), r.name, r.source, r.created_at)
        for r in conn.execute(q)
    ]


def upvoted_items(conn: Connection, user_id: int) -> list[LibraryItem]:
    """The member's upvotes as library items (positives for recommendations)."""
    q = sa.select(votes.c.paper_id, votes.c.created_at).where(votes.c.user_id == user_id)
    return [LibraryItem(r.paper_id, None, None, "vote", r.created_at) for r in conn.execute(q)]


def collections_of(
    conn: Connection, user_id: int, paper_ids: Iterable[str]
) -> dict[str, list[int]]:
    """For each of these papers that the member saved, the ids of its collections."""
    ids = list(dict.fromkeys(paper_ids))
    out: dict[str, list[int]] = {}
    for i in range(0, len(ids), _CHUNK):
        q = sa.select(library_items.c.paper_id, library_items.c.collection_id).where(
            library_items.c.user_id == user_id, library_items.c.paper_id.in_(ids[i : i + _CHUNK])
        )
        for r in conn.execute(q):
            out.setdefault(r.paper_id, []).append(int(r.collection_id))
    return out


def saved_ids(conn: Connection, user_id: int) -> set[str]:
    """Every paper in any of the member's collections."""
    q = sa.select(library_items.c.paper_id).where(library_items.c.user_id == user_id).distinct()
    return {r[0] for r in conn.execute(q)}


def hide(conn: Connection, user_id: int, paper_id: str) -> bool:
    """Mark a paper "not interested" for this member; True when it was not hidden before."""
    _check_paper(conn, paper_id)
    stmt = (
        insert_for(conn, library_hidden)
        .values(user_id=user_id, paper_id=paper_id, created_at=_now())
        .on_conflict_do_nothing()
        .returning(library_hidden.c.paper_id)
    )
    new = conn.execute(stmt).first() is not None
    if new:
        _bump(conn, user_id)
    return new


def unhide(conn: Connection, user_id: int, paper_id: str) -> bool:
    """Undo "not interested"; True when the paper was hidden."""
    res = conn.execute(
        sa.delete(library_hidden).where(
            library_hidden.c.user_id == user_id, library_hidden.c.paper_id == paper_id
        )
    )
    if res.rowcount:
        _bump(conn, user_id)
    return bool(res.rowcount)


def hidden_items(conn: Connection, user_id: int) -> list[tuple[str, datetime]]:
    """The member's "not interested" papers with when, newest first."""
    q = (
        sa.select(library_hidden.c.paper_id, library_hidden.c.created_at)
        .where(library_hidden.c.user_id == user_id)
        .order_by(library_hidden.c.created_at.desc())
    )
    return [(r.paper_id, r.created_at) for r in conn.execute(q)]


def hidden_ids(conn: Connection, user_id: int) -> set[str]:
    """The member's "not interested" papers."""
    return {p for p, _ in hidden_items(conn, user_id)}


def record_impressions(conn: Connection, user_id: int, paper_ids: Sequence[str]) -> None:
    """Count that these papers were shown to the member as recommendations."""
    now = _now()
    for pid in dict.fromkeys(paper_ids):
        stmt = insert_for(conn, library_impressions).values(
            user_id=user_id, paper_id=pid, shown=1, last_shown_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[library_impressions.c.user_id, library_impressions.c.paper_id],
            set_={"shown": library_impressions.c.shown + 1, "last_shown_at": now},
        )
        conn.execute(stmt)


def impressions(conn: Connection, user_id: int) -> dict[str, int]:
    """How often each paper was shown to the member as a recommendation."""
    q = sa.select(library_impressions.c.paper_id, library_impressions.c.shown).where(
        library_impressions.c.user_id == user_id
    )
    return {r.paper_id: int(r.shown) for r in conn.execute(q)}


def members_with_library(conn: Connection) -> list[int]:
    """Ids of members who saved, hid or upvoted anything (those worth recommending to)."""
    q = sa.union(
        sa.select(library_items.c.user_id),
        sa.select(library_hidden.c.user_id),
        sa.select(votes.c.user_id),
    )
    return sorted(int(r[0]) for r in conn.execute(q))


def find_by_dois(conn: Connection, dois: Iterable[str]) -> dict[str, str]:
    """Visible papers by DOI (compared lower-case): lower-case DOI -> paper id."""
    keys = list(dict.fromkeys(d.strip().lower() for d in dois if d.strip()))
    out: dict[str, str] = {}
    for i in range(0, len(keys), _CHUNK):
        q = sa.select(papers.c.id, papers.c.doi).where(
            sa.func.lower(papers.c.doi).in_(keys[i : i + _CHUNK]), papers.c.hidden == sa.false()
        )
        for r in conn.execute(q):
            out[r.doi.lower()] = r.id
    return out


def find_by_titles(conn: Connection, titles: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Visible papers whose lower-cased title is one of these: lower title -> [(id, title)]."""
    keys = list(dict.fromkeys(t.lower() for t in titles if t))
    out: dict[str, list[tuple[str, str]]] = {}
    for i in range(0, len(keys), _CHUNK):
        q = sa.select(papers.c.id, papers.c.title).where(
            sa.func.lower(papers.c.title).in_(keys[i : i + _CHUNK]), papers.c.hidden == sa.false()
        )
        for r in conn.execute(q):
            out.setdefault(r.title.lower(), []).append((r.id, r.title))
    return out


def existing_ids(conn: Connection, ids: Iterable[str]) -> set[str]:
    """Which of these paper ids are stored and visible."""
    keys = list(dict.fromkeys(ids))
    out: set[str] = set()
    for i in range(0, len(keys), _CHUNK):
        q = sa.select(papers.c.id).where(
            papers.c.id.in_(keys[i : i + _CHUNK]), papers.c.hidden == sa.false()
        )
        out.update(r[0] for r in conn.execute(q))
    return out


def shown_on(conn: Connection, user_id: int, day: date) -> set[str]:
    """Papers already counted as shown to the member on or after this UTC day."""
    start = datetime.combine(day, datetime.min.time())
    q = sa.select(library_impressions.c.paper_id).where(
        library_impressions.c.user_id == user_id, library_impressions.c.last_shown_at >= start
    )
    return {r[0] for r in conn.execute(q)}

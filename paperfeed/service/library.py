"""A member's library: saving papers into collections, taking them out, hiding, importing."""

from __future__ import annotations

from dataclasses import dataclass

from paperfeed.errors import Conflict, InvalidInput, NotFound
from paperfeed.models import Paper, User
from paperfeed.recommend import imports
from paperfeed.service.papers import member_paper_id
from paperfeed.store import Database
from paperfeed.store import library as store_library
from paperfeed.store import papers as store_papers


@dataclass(frozen=True, slots=True)
class Contents:
    """A member's library at a glance: their collections with sizes and their hidden papers."""

    collections: list[store_library.Collection]
    hidden: list[Paper]


@dataclass(frozen=True, slots=True)
class Saved:
    """A paper saved: how many collections gained it and every collection it is now in."""

    paper_id: str
    added: int
    collections: list[int]


def _checked(db: Database, value: str, missing: str) -> str:
    pid = member_paper_id(db, value)
    if not pid:
        raise InvalidInput(missing)
    return pid


def collection(db: Database, user: User, name_or_id: str) -> store_library.Collection:
    """One of the member's collections by name or id (NotFound otherwise)."""
    with db.read() as conn:
        col = store_library.find_collection(conn, user.id, name_or_id)
    if col is None:
        raise NotFound(f"you have no collection {name_or_id!r}")
    return col


def save(
    db: Database, user: User, paper: str, collection_ids: list[int], new_collection: str = ""
) -> Saved:
    """Save a paper into the chosen collections and/or a new one (the default one if none)."""
    pid = _checked(db, paper, "no such paper to save")
    ids = list(collection_ids)
    new_name = new_collection.strip()
    with db.write() as conn:
        if new_name:
            ids.append(store_library.get_or_create_collection(conn, user.id, new_name).id)
        if not ids:
            default = store_library.get_or_create_collection(
                conn, user.id, store_library.DEFAULT_COLLECTION
            )
            ids.append(default.id)
        added = store_library.save(conn, user.id, pid, ids)
        placed = store_library.collections_of(conn, user.id, [pid]).get(pid, [])
    return Saved(pid, added, placed)


def unsave(db: Database, user: User, paper: str, collection_id: int | None) -> tuple[str, int]:
    """Take a paper out of one collection (or the whole library): its id and rows removed."""
    pid = member_paper_id(db, paper)
    with db.write() as conn:
        return pid, store_library.unsave(conn, user.id, pid, collection_id)


def hide(db: Database, user: User, paper: str, *, undo: bool = False) -> str:
    """Keep a paper out of the member's recommendations (undo: let it back in); its id."""
    pid = _checked(db, paper, "no such paper")
    with db.write() as conn:
        if undo:
            store_library.unhide(conn, user.id, pid)
        else:
            store_library.hide(conn, user.id, pid)
    return pid


@dataclass(frozen=True, slots=True)
class LibraryIds:
    """A member's whole library: each collection with its paper ids (newest saved first), hidden ids."""

    collections: list[tuple[store_library.Collection, list[str]]]
    hidden: list[str]


def library_ids(db: Database, user: User) -> LibraryIds:
    """Everything in the member's library as ids, for the JSON API."""
    with db.read() as conn:
        cols = store_library.list_collections(conn, user.id)
        placed: dict[int, list[str]] = {c.id: [] for c in cols}
        for item in store_library.items(conn, user.id):
            if item.collection_id in placed:
                placed[item.collection_id].append(item.paper_id)
        hidden = [pid for pid, _ in store_library.hidden_items(conn, user.id)]
    return LibraryIds([(c, placed[c.id]) for c in cols], hidden)


def create_collection(db: Database, user: User, name: str) -> store_library.Collection:
    """Create an empty collection; Conflict when the member has one of that name already."""
    name = store_library.clean_name(name)
    with db.write() as conn:
        if any(
            c.name.lower() == name.lower() for c in store_library.list_collections(conn, user.id)
        ):
            raise Conflict(f"you already have a collection named {name!r}")
        return store_library.get_or_create_collection(conn, user.id, name)


def delete_collection(db: Database, user: User, name_or_id: str) -> None:
    """Delete one of the member's collections (its papers stay in any other)."""
    col = collection(db, user, name_or_id)
    with db.write() as conn:
        store_library.delete_collection(conn, user.id, col.id)


def import_file(
    db: Database, user: User, data: bytes, *, collection: str, filename: str, fmt: str | None
) -> imports.ImportReport:
    """Import a BibTeX, RIS or CSL-JSON file into a collection, all entries or none."""
    return imports.import_library(
        db, user.id, data, collection=collection, filename=filename, fmt=fmt
    )


def contents(db: Database, user: User, *, hidden_limit: int = 50) -> Contents:
    """The member's collections and the latest papers they marked "not interested"."""
    with db.read() as conn:
        cols = store_library.list_collections(conn, user.id)
        hidden = store_library.hidden_items(conn, user.id)[:hidden_limit]
        found = store_papers.get_papers(conn, [p for p, _ in hidden])
    return Contents(cols, [found[p] for p, _ in hidden if p in found])


def collection_papers(db: Database, user: User, collection_id: int | None) -> list[Paper]:
    """The listed papers of one of the member's collections (or all of them), newest saved first."""
    with db.read() as conn:
        items = store_library.items(conn, user.id, collection_id)
        found = store_papers.get_papers(conn, [i.paper_id for i in items])
    ids = dict.fromkeys(i.paper_id for i in items if i.paper_id in found)  # once, however placed
    return [found[pid] for pid in ids]

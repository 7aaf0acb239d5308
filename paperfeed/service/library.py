"""A member's library: saving papers into collections, taking them out, hiding, importing."""

from __future__ import annotations

from dataclasses import dataclass

from paperfeed.errors import InvalidId, InvalidInput, NotFound
from paperfeed.models import User
from paperfeed.normalize import parse_paper_id
from paperfeed.recommend import imports
from paperfeed.store import Database
from paperfeed.store import library as store_library


@dataclass(frozen=True, slots=True)
class Saved:
    """A paper saved: how many collections gained it and every collection it is now in."""

    paper_id: str
    added: int
    collections: list[int]


def paper_id(value: str) -> str:
    """The canonical id of a paper named in a form, or "" when it names none."""
    try:
        return parse_paper_id(value).id if 0 < len(value) < 100 else ""
    except InvalidId:
        return ""


def _checked(value: str, missing: str) -> str:
    pid = paper_id(value)
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
    pid = _checked(paper, "no such paper to save")
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
    pid = paper_id(paper)
    with db.write() as conn:
        return pid, store_library.unsave(conn, user.id, pid, collection_id)


def hide(db: Database, user: User, paper: str, *, undo: bool = False) -> str:
    """Keep a paper out of the member's recommendations (undo: let it back in); its id."""
    pid = _checked(paper, "no such paper")
    with db.write() as conn:
        if undo:
            store_library.unhide(conn, user.id, pid)
        else:
            store_library.hide(conn, user.id, pid)
    return pid


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

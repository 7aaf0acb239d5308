"""Following authors, organizations, categories, saved searches, collections and paper versions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from paperfeed.config import Settings
from paperfeed.errors import InvalidId, InvalidInput, NotFound
from paperfeed.models import User
from paperfeed.normalize import author_slug, clean_text, parse_paper_id
from paperfeed.search.query import QueryError, parse
from paperfeed.service.papers import member_paper_id
from paperfeed.store import Database
from paperfeed.store import authors as store_authors
from paperfeed.store import follows as store_follows
from paperfeed.store import library as store_library
from paperfeed.store import papers as store_papers
from paperfeed.store.follows import KINDS, Follow

MODES = ("keywords", "meaning")
MAX_TARGET = 400
_CATEGORY = re.compile(r"[a-z][a-z\-]*(?:\.[a-z0-9\-]+)?")
KIND_LABELS = {
    "author": "Author",
    "org": "Organization",
    "category": "Category",
    "search": "Saved search",
    "collection": "Papers like a collection",
    "paper_version": "New versions of a paper",
}


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a follow request names: the kind, its lookup key, label and kind-specific data."""

    kind: str
    target: str
    label: str
    data: dict[str, object]


def resolve(db: Database, user: User, kind: str, target: str, mode: str = "keywords") -> Resolved:
    """Check that the thing exists (or the search is valid) and give its key; InvalidInput/NotFound."""
    kind = (kind or "").strip()
    if kind not in KINDS:
        raise InvalidInput(f"cannot follow a {kind!r}: follow one of {', '.join(KINDS)}")
    text = clean_text(target or "").strip()
    if not text:
        raise InvalidInput(f"say which {KIND_LABELS[kind].lower()} to follow")
    if len(text) > MAX_TARGET:
        raise InvalidInput(f"that is {len(text)} characters; at most {MAX_TARGET} can be followed")
    return _RESOLVERS[kind](db, user, text, mode)


def _author(db: Database, user: User, name: str, mode: str) -> Resolved:
    slug = author_slug(name)
    if not slug:
        raise InvalidInput(f"{name!r} is not an author name (placeholders like 'et al.' are not)")
    with db.read() as conn:
        shown = store_authors.name_of(conn, slug)
    if shown is None:
        raise NotFound(f"no paper here is by {name!r}: check the spelling on a paper page")
    return Resolved("author", slug, shown, {})


def _org(db: Database, user: User, name: str, mode: str) -> Resolved:
    with db.read() as conn:
        stored = store_follows.organization_name(conn, name)
    if stored is None:
        raise NotFound(f"no organization named {name!r} has papers here")
    return Resolved("org", stored.lower(), stored, {})


def _category(db: Database, user: User, cat: str, mode: str) -> Resolved:
    key = cat.strip().lower().removeprefix("cat:")
    if not _CATEGORY.fullmatch(key):
        raise InvalidInput(
            f"{cat!r} is not an arXiv category: write e.g. cs.CL, or cs for all of cs"
        )
    with db.read() as conn:
        if not store_follows.category_used(conn, key):
            raise NotFound(f"no paper here is in {cat!r}: check the category name (e.g. cs.CL)")
    return Resolved("category", key, cat.strip().removeprefix("cat:"), {})


def _search(db: Database, user: User, text: str, mode: str) -> Resolved:
    if mode not in MODES:
        raise InvalidInput(f"search by {mode!r}? choose keywords or meaning")
    try:
        q = parse(text)
    except QueryError as exc:
        raise InvalidInput(f"this saved search is not valid: {exc}") from None
    if q.arxiv_id:
        raise InvalidInput("that is a paper id: follow new versions on the paper's page instead")
    if q.is_empty:
        raise InvalidInput("this saved search has no words and no filters: it would match nothing")
    if mode == "meaning" and not q.has_text:
        raise InvalidInput("a search by meaning needs words to compare papers with")
    key = " ".join(text.split())
    target = key if mode == "keywords" else f"~{key}"
    return Resolved("search", target, key, {"query": key, "mode": mode})


def _collection(db: Database, user: User, value: str, mode: str) -> Resolved:
    with db.read() as conn:
        col = store_library.find_collection(conn, user.id, value)
    if col is None:
        raise NotFound(f"you have no collection {value!r}")
    return Resolved("collection", str(col.id), col.name, {"collection": col.id})


def _paper_version(db: Database, user: User, value: str, mode: str) -> Resolved:
    pid = member_paper_id(db, value)  # bio: a DOI paper too
    if not pid:
        raise InvalidInput(f"{value[:100]!r} is not a paper id")
    with db.read() as conn:
        paper = store_papers.get_paper(conn, pid)
    if paper is None:
        raise NotFound(f"no paper {pid} here")
    return Resolved("paper_version", pid, paper.title, {"version": paper.version})


_RESOLVERS = {
    "author": _author,
    "org": _org,
    "category": _category,
    "search": _search,
    "collection": _collection,
    "paper_version": _paper_version,
}


def follow(
    db: Database,
    settings: Settings,
    user: User,
    kind: str,
    target: str,
    mode: str = "keywords",
    *,
    resolved: Resolved | None = None,
) -> tuple[Follow, bool]:
    """Follow something (or what `resolve` found); returns the follow and whether it is new."""
    r = resolved or resolve(db, user, kind, target, mode)
    cap = settings.follow_max_per_member
    with db.write() as conn:
        existing = store_follows.get_target(conn, user.id, r.kind, r.target)
        if existing is not None:
            return existing, False
        if store_follows.count_for(conn, user.id) >= cap:
            raise InvalidInput(
                f"you already follow {cap:,} things, the most one member can: unfollow some first"
            )
        return store_follows.add(conn, user.id, r.kind, r.target, r.label, dict(r.data))


def unfollow(db: Database, user: User, follow_id: int) -> None:
    """Stop following; NotFound when the follow is not the member's."""
    with db.write() as conn:
        if not store_follows.remove(conn, user.id, follow_id):
            raise NotFound("you do not follow that (any more)")


def unfollow_target(
    db: Database, user: User, kind: str, target: str, mode: str = "keywords"
) -> None:
    """Stop following by what was followed (the Follow button's form), idempotent."""
    r = resolve(db, user, kind, target, mode)
    with db.write() as conn:
        found = store_follows.get_target(conn, user.id, r.kind, r.target)
        if found is not None:
            store_follows.remove(conn, user.id, found.id)


def keyword_searches(db: Database, user: User) -> list[Follow]:
    """The member's saved keyword searches (what the digest settings page edits)."""
    return [f for f in list_for(db, user) if f.kind == "search" and f.data.get("mode") != "meaning"]


def replace_searches(
    db: Database, settings: Settings, user: User, old: list[str], new: list[str]
) -> None:
    """Make the searches `old` (as shown) become `new`: follow what was added, drop what went."""
    # Every new search is checked before anything changes, so a bad one loses nothing.
    keys = {target_key("search", t) for t in old}
    added = [resolve(db, user, "search", t) for t in new if target_key("search", t) not in keys]
    kept = {target_key("search", t) for t in new}
    for r in added:
        follow(db, settings, user, "search", r.label, resolved=r)
    with db.write() as conn:
        for key in keys - kept:
            found = store_follows.get_target(conn, user.id, "search", key)
            if found is not None:
                store_follows.remove(conn, user.id, found.id)


def list_for(db: Database, user: User) -> list[Follow]:
    """The member's follows, by kind then label."""
    with db.read() as conn:
        return store_follows.list_for(conn, user.id)


def as_json(f: Follow) -> dict[str, object]:
    """A follow as the JSON API and the MCP server show it."""
    mode = f.data.get("mode", "keywords") if f.kind == "search" else None
    created = f.created_at.isoformat() if f.created_at else None
    return {
        "id": f.id,
        "kind": f.kind,
        "target": f.target,
        "label": f.label,
        "mode": mode,
        "created_at": created,
    }


def target_key(kind: str, target: str, mode: str = "keywords") -> str:
    """The lookup key a follow of this would have, without checking that it exists (buttons)."""
    text = clean_text(target or "").strip()
    if kind == "author":
        return author_slug(text)
    if kind in ("org", "category"):
        return text.lower().removeprefix("cat:")
    if kind == "search":
        key = " ".join(text.split())
        return key if mode != "meaning" else f"~{key}"
    if kind == "paper_version":
        try:
            return parse_paper_id(text[:100]).id
        except InvalidId:
            return text
    return text


def following(
    db: Database, user: User | None, kind: str, target: str, mode: str = "keywords"
) -> Follow | None:
    """The member's follow of this thing (for a button's state), None when signed out."""
    key = target_key(kind, target, mode)
    if user is None or not key:
        return None
    with db.read() as conn:
        return store_follows.get_target(conn, user.id, kind, key)

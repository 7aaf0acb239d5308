"""Author and organization pages: one name's papers grouped into people, an organization's papers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from paperfeed.errors import NotFound
from paperfeed.models import Organization, Paper
from paperfeed.normalize import author_slug
from paperfeed.store import Database
from paperfeed.store import authors as author_store
from paperfeed.store import papers as paper_store
from paperfeed.store.authors import Authored

GROUPING = "grouped by shared co-authors and categories"
TOP = 30  # co-authors and categories listed on a page


@dataclass(slots=True)
class Person:
    """The papers under one name that the data ties to one person."""

    key: str  # the id of the person's earliest paper here: their stable ?person= value
    name: str  # the most frequent spelling
    papers: list[Authored]  # newest first
    coauthors: list[tuple[str, str, int]]  # (slug, name, shared papers), most frequent first
    categories: list[tuple[str, int]]
    upvotes: int
    members: list[int] = field(default_factory=list)  # confirmed claimants among these papers


@dataclass(slots=True)
class AuthorPage:
    """What /authors/{slug} shows: every person with this name, and one page of papers."""

    slug: str
    name: str
    people: list[Person]
    person: Person | None  # the one asked for with ?person=, else None (all of them)
    papers: list[Paper]
    total: int
    page: int
    pages: int
    coauthors: list[tuple[str, str, int]]
    categories: list[tuple[str, int]]
    upvotes: int
    truncated: bool  # more than MAX_GROUPED papers: only the newest were grouped

    @property
    def grouping(self) -> str:
        """How the papers were told apart, as the page says it."""
        n = len(self.people)
        return f"{GROUPING}; {n} {'person' if n == 1 else 'people'} with this name here"


@dataclass(slots=True)
class OrgPage:
    """What /orgs/{name} shows: the organization and one page of its papers."""

    organization: Organization
    papers: list[Paper]
    total: int
    page: int
    pages: int
    authors: list[tuple[str, str, int]]
    categories: list[tuple[str, int]]
    upvotes: int


class _Groups:
    """Union-find over paper indexes."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group_people(
    rows: Sequence[Authored], coauthors: dict[str, list[tuple[str, str]]]
) -> list[list[Authored]]:
    """Split one name's papers into people: shared co-authors or claimant join, categories attach."""
    # 1. Papers sharing a co-author (or claimed by the same member) are one person.
    groups = _Groups(len(rows))
    first_with: dict[tuple[str, object], int] = {}
    for i, r in enumerate(rows):
        keys: list[tuple[str, object]] = [("co", s) for s, _ in coauthors.get(r.paper_id, [])]
        if r.claimed_by is not None:
            keys.append(("member", r.claimed_by))
        for key in keys:
            j = first_with.setdefault(key, i)
            groups.union(i, j)
    members: dict[int, list[int]] = {}
    for i in range(len(rows)):
        members.setdefault(groups.find(i), []).append(i)
    # 2. A paper tied to no other joins the largest group whose categories overlap its own most.
    multi = {root: idx for root, idx in members.items() if len(idx) > 1}
    cats = {
        root: Counter(c for i in idx for c in rows[i].categories) for root, idx in multi.items()
    }
    for root, idx in list(members.items()):
        if len(idx) > 1:
            continue
        mine = set(rows[idx[0]].categories)
        best, best_key = None, (0, 0)
        for other, counter in cats.items():
            overlap = sum(1 for c in mine if c in counter)
            rank = (overlap, len(multi[other]))
            if overlap and rank > best_key:
                best, best_key = other, rank
        if best is not None:
            members[best].extend(idx)
            del members[root]
    people = [sorted(idx) for idx in members.values()]
    # Most papers first; rows are newest first, so a smaller first index is a newer person.
    people.sort(key=lambda idx: (-len(idx), idx[0]))
    return [[rows[i] for i in idx] for idx in people]


def _spelling(names: Sequence[str]) -> str:
    return Counter(names).most_common(1)[0][0] if names else ""


def _person(papers: list[Authored], coauthors: dict[str, list[tuple[str, str]]]) -> Person:
    earliest = min(papers, key=lambda a: (a.published is None, a.published or 0, a.paper_id))
    co: Counter[str] = Counter()
    spelled: dict[str, str] = {}
    for a in papers:
        for slug, name in dict(coauthors.get(a.paper_id, [])).items():
            co[slug] += 1
            spelled.setdefault(slug, name)
    categories = Counter(c for a in papers for c in a.categories)
    return Person(
        key=earliest.paper_id,
        name=_spelling([a.name for a in papers]),
        papers=papers,
        coauthors=[(s, spelled[s], n) for s, n in co.most_common(TOP)],
        categories=categories.most_common(TOP),
        upvotes=sum(a.upvotes for a in papers),
        members=sorted({a.claimed_by for a in papers if a.claimed_by is not None}),
    )


def author_page(
    db: Database, slug: str, *, person: str | None = None, page: int = 0, size: int = 20
) -> AuthorPage:
    """One author slug's people and a page of papers (of one person when `person` names one)."""
    with db.read() as conn:
        rows = author_store.authored(conn, slug) if slug else []
        if not rows:
            raise NotFound(f"no papers by an author called {slug!r} in this feed")
        coauthors = author_store.coauthors(conn, [r.paper_id for r in rows], slug)
    people = [_person(g, coauthors) for g in group_people(rows, coauthors)]
    chosen = None
    if person:
        # Any paper of the person names them: a merged group still answers its old key.
        chosen = next((p for p in people if any(a.paper_id == person for a in p.papers)), None)
        if chosen is None:
            raise NotFound(f"no paper {person!r} by {slug!r} in this feed: the person is unknown")
    listed = chosen.papers if chosen else rows
    whole = chosen or _person(list(rows), coauthors)
    size = max(1, size)
    pages = max(1, -(-len(listed) // size))
    if page >= pages:
        raise NotFound(f"page {page + 1} is past the last page ({pages}) of {slug!r}")
    ids = [a.paper_id for a in listed[page * size : (page + 1) * size]]
    with db.read() as conn:
        found = paper_store.get_papers(conn, ids)
    return AuthorPage(
        slug=slug,
        name=whole.name,
        people=people,
        person=chosen,
        papers=[found[i] for i in ids if i in found],
        total=len(listed),
        page=page,
        pages=pages,
        coauthors=whole.coauthors,
        categories=whole.categories,
        upvotes=whole.upvotes,
        truncated=len(rows) >= author_store.MAX_GROUPED,
    )


def canonical_slug(text: str) -> str:
    """The slug a requested author path stands for (a name typed into the URL works too)."""
    return author_slug(text)


def org_page(db: Database, name: str, *, page: int = 0, size: int = 20) -> OrgPage:
    """An organization's papers, newest first, with its frequent authors and categories."""
    with db.read() as conn:
        orgs = author_store.organizations_named(conn, name[:255]) if name else []
        if not orgs:
            raise NotFound(f"no organization called {name!r} in this feed")
        ids = [o.id for o in orgs]
        total, upvotes = author_store.org_totals(conn, ids)
        size = max(1, size)
        pages = max(1, -(-total // size))
        if page >= pages:
            raise NotFound(f"page {page + 1} is past the last page ({pages}) of {name!r}")
        listed = author_store.org_papers(conn, ids, offset=page * size, limit=size)
        found = paper_store.get_papers(conn, listed)
        authors = author_store.org_authors(conn, ids)
        categories = author_store.org_categories(conn, ids)
    return OrgPage(
        organization=orgs[0],
        papers=[found[i] for i in listed if i in found],
        total=total,
        page=page,
        pages=pages,
        authors=authors,
        categories=categories,
        upvotes=upvotes,
    )

"""Papers: upsert that never moves a version backwards, lookups and change-ordered scans."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.models import FeedFilter, Paper, UpsertCounts
from paperfeed.normalize import InvalidRecord, has_invalid
from paperfeed.store import identities
from paperfeed.store.authors import replace_authors
from paperfeed.store.organizations import (
    organization_columns,
    organization_from_row,
    upsert_organizations,
)
from paperfeed.store.schema import counters, paper_keywords, papers, signals, upvotes_expr

# Fields an incoming record may set; empty incoming values never erase stored ones.
_FIELDS = (
    "title",
    "abstract",
    "authors",
    "categories",
    "published",
    "updated",
    "comments",
    "journal_ref",
    "doi",
    "license",
    "github_repo",
    "project_page",
    "ai_summary",
    "ai_keywords",
    "organization_id",
    "discussion_id",
    "thumbnail",
    "media_urls",
)
# Links a confirmed author or curator sets (service/claims.edit_links) that sources never overwrite.
_EDITABLE_LINKS = frozenset({"github_repo", "project_page"})
_CHUNK = 500  # ids per IN (...) lookup: well under SQLite's 32k variable limit


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is not None:
        return dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _refuse_invalid_text(pid: str, values: dict[str, Any]) -> None:
    """Refuse text a database would reject or mangle (NUL, lone surrogates, control characters)."""
    # Sources clean records (normalize.valid_record); this is the last line, a few µs a paper.
    for name, value in values.items():
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and has_invalid(t) for t in texts):
            raise InvalidRecord(
                f"paper {pid!r}: {name} holds a NUL, lone surrogate or control character; "
                "records must pass normalize.valid_record before they are stored"
            )


def _row_values(p: Paper) -> dict[str, Any]:
    values = {
        "title": p.title,
        "abstract": p.abstract,
        "authors": list(p.authors),
        "categories": list(p.categories),
        "published": _naive(p.published),
        "updated": _naive(p.updated),
        "comments": p.comments,
        "journal_ref": p.journal_ref,
        "doi": p.doi,
        "license": p.license,
        "github_repo": p.github_repo,
        "project_page": p.project_page,
        "ai_summary": p.ai_summary,
        "ai_keywords": list(p.ai_keywords) if p.ai_keywords else None,
        "organization_id": p.organization.id if p.organization else None,
        "discussion_id": p.discussion_id,
        "thumbnail": p.thumbnail,
        "media_urls": list(p.media_urls) if p.media_urls else None,
    }
    _refuse_invalid_text(p.id, values)
    return values


def _present(value: Any) -> bool:
    return value not in (None, "", [], ())


def next_revs(conn: Connection, n: int, name: str = "paper_rev") -> int:
    """Reserve n consecutive change numbers and return the first; the row lock orders commits."""
    stmt = (
        sa.update(counters)
        .where(counters.c.name == name)
        .values(value=counters.c.value + n)
        .returning(counters.c.value)
    )
    last = conn.execute(stmt).scalar_one()
    return int(last) - n + 1


def upsert_papers(conn: Connection, batch: Sequence[Paper]) -> UpsertCounts:
    """Insert new papers and merge newer data into known ones inside the caller's transaction."""
    counts = UpsertCounts()
    if not batch:
        return counts
    upsert_organizations(conn, [p.organization for p in batch if p.organization])
    # Last occurrence of an id in a batch wins, except that versions never go backwards.
    by_id: dict[str, Paper] = {}
    for p in batch:
        old = by_id.get(p.id)
        by_id[p.id] = p if old is None or p.version >= old.version else old
    existing: dict[str, Any] = {}
    ids = list(by_id)
    for i in range(0, len(ids), _CHUNK):
        rows = conn.execute(sa.select(papers).where(papers.c.id.in_(ids[i : i + _CHUNK])))
        existing.update({r.id: r for r in rows})
    inserts: list[dict[str, Any]] = []
    updates: list[tuple[str, dict[str, Any]]] = []
    now = _now()
    # Another source's record of a stored paper adds its identities to it instead of a second
    # paper (a bioRxiv preprint of an arXiv paper, a medRxiv one published in the same journal).
    links, fresh = identities.plan_links(conn, list(by_id.values()), existing)
    for pid, p in by_id.items():
        row = existing.get(pid)
        values = _row_values(p)
        if row is None and pid in links:
            continue
        if row is None:
            values.update(
                id=pid,
                source=p.source,
                version=p.version,
                primary_category=p.primary_category,
                ext_upvotes=p.upvotes,
                votes=0,
                num_comments=0,  # counts comments posted here; HF's count is a signal
                hidden=False,
                created_at=now,
                modified_at=now,
            )
            inserts.append(values)
            continue
        change = _merge(row, p, values)
        if change:
            updates.append((pid, change))
        else:
            counts.unchanged += 1
    total = len(inserts) + len(updates)
    if total:
        rev = next_revs(conn, total)
        for values in inserts:
            values["rev"] = rev
            rev += 1
        if inserts:
            conn.execute(papers.insert(), inserts)
        for pid, change in updates:
            change.update(rev=rev, modified_at=now)
            rev += 1
            conn.execute(sa.update(papers).where(papers.c.id == pid).values(**change))
    # authors: the authorship index follows every new or changed author list.
    listed = {v["id"]: v["authors"] for v in inserts}
    listed.update((pid, change["authors"]) for pid, change in updates if "authors" in change)
    if listed:
        replace_authors(conn, listed)
    late = [pid for pid in links if pid in existing]
    for pid in late:
        # Both records were stored before the link was known: the later one turns into an alias.
        identities.repoint(conn, pid, links[pid])
        if not existing[pid].hidden:
            set_hidden(conn, pid, True)
    identities.record(conn, list(by_id.values()), links)
    counts.new += len(inserts)
    counts.updated += len(updates)
    # A record that only adds identities to another paper counts as an update the first time.
    aliases = [pid for pid in links if pid not in existing]
    counts.updated += sum(1 for pid in aliases if pid in fresh)
    counts.unchanged += sum(1 for pid in aliases if pid not in fresh)
    return counts


def _merge(row: Any, p: Paper, values: dict[str, Any]) -> dict[str, Any]:
    """The columns to change on a stored row; an older version only fills gaps."""
    newer_or_same = p.version >= row.version
    change: dict[str, Any] = {}
    for name in _FIELDS:
        new, old = values[name], getattr(row, name)
        if not _present(new) or (name in _EDITABLE_LINKS and row.links_edited_at is not None):
            continue
        if (newer_or_same and new != old) or (not newer_or_same and not _present(old)):
            change[name] = new
    if p.version > row.version:
        change["version"] = p.version
    if "categories" in change:
        change["primary_category"] = p.primary_category
    if p.upvotes and p.upvotes != row.ext_upvotes:
        change["ext_upvotes"] = p.upvotes
    return change


def paper_from_row(row: Any) -> Paper:
    """Build a Paper model from a papers row (with the upvotes label)."""
    m = row._mapping
    return Paper(
        local_keywords=_local_keywords(m.get("local_keywords")),
        id=m["id"],
        title=m["title"],
        abstract=m["abstract"],
        authors=list(m["authors"] or []),
        categories=list(m["categories"] or []),
        version=m["version"],
        published=m["published"],
        updated=m["updated"],
        comments=m["comments"],
        journal_ref=m["journal_ref"],
        doi=m["doi"],
        license=m["license"],
        github_repo=m["github_repo"],
        project_page=m["project_page"],
        ai_summary=m["ai_summary"],
        ai_keywords=list(m["ai_keywords"] or []),
        upvotes=int(m["upvotes"]) if "upvotes" in m else int(m["ext_upvotes"]) + int(m["votes"]),
        num_comments=m["num_comments"],
        organization=organization_from_row(m),
        discussion_id=m.get("discussion_id"),
        thumbnail=m.get("thumbnail"),
        media_urls=list(m.get("media_urls") or []),
        github_stars=int(m["github_stars"]) if m.get("github_stars") is not None else None,
        source=m.get("source") or "arxiv",
    )


# The latest star count: one primary-key range probe per row (signals is keyed by paper, kind,
# time), so lists of 100 papers stay one query.
_stars_expr = (
    sa.select(signals.c.value)
    .where(signals.c.paper_id == papers.c.id, signals.c.kind == "github_stars")
    .order_by(signals.c.observed_at.desc())
    .limit(1)
    .scalar_subquery()
    .label("github_stars")
)

# --- keywords (issue 16): the keywords extracted here ride along with every paper read ---
_KW_SEP = "\x1f"
_local_keywords_expr = (
    sa.select(
        sa.func.aggregate_strings(
            # 1000 + rank: four digits that sort as numbers (a paper has far fewer keywords).
            sa.cast(paper_keywords.c.rank + 1000, sa.String) + "|" + paper_keywords.c.keyword,
            _KW_SEP,
        )
    )
    .where(paper_keywords.c.paper_id == papers.c.id, paper_keywords.c.source == "local")
    .scalar_subquery()
    .label("local_keywords")
)


def _local_keywords(value: str | None) -> list[str]:
    """Rank-prefixed phrases ('1003|phrase') joined by _KW_SEP, back in rank order."""
    if not value:
        return []
    return [k.split("|", 1)[1] for k in sorted(value.split(_KW_SEP)) if "|" in k]


def paper_columns() -> list[Any]:
    """The columns that paper_from_row needs."""
    return [*papers.c, upvotes_expr, _stars_expr, _local_keywords_expr, *organization_columns()]


def get_paper(conn: Connection, paper_id: str, *, include_hidden: bool = False) -> Paper | None:
    """One paper by canonical id, or None."""
    q = sa.select(*paper_columns()).where(papers.c.id == paper_id)
    if not include_hidden:
        q = q.where(papers.c.hidden == sa.false())
    row = conn.execute(q).first()
    return paper_from_row(row) if row else None


def get_papers(conn: Connection, ids: Iterable[str]) -> dict[str, Paper]:
    """Visible papers by id, as a dict (missing ids are absent)."""
    ids = list(dict.fromkeys(ids))
    out: dict[str, Paper] = {}
    for i in range(0, len(ids), _CHUNK):
        q = sa.select(*paper_columns()).where(
            papers.c.id.in_(ids[i : i + _CHUNK]), papers.c.hidden == sa.false()
        )
        out.update({r.id: paper_from_row(r) for r in conn.execute(q)})
    return out


def count_papers(conn: Connection) -> int:
    """How many papers are stored."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())


def iter_papers(conn: Connection, *, batch: int = 1000) -> Iterator[Paper]:
    """Every paper in id order, fetched in keyset pages so memory stays constant."""
    last = ""
    while True:
        q = sa.select(*paper_columns()).where(papers.c.id > last).order_by(papers.c.id).limit(batch)
        rows = conn.execute(q).all()
        if not rows:
            return
        for r in rows:
            yield paper_from_row(r)
        last = rows[-1].id


def changed_since(
    conn: Connection, rev: int, *, limit: int = 1000
) -> list[tuple[int, Paper, bool]]:
    """Papers whose change number is above rev, in change order, with their hidden flag."""
    q = sa.select(*paper_columns()).where(papers.c.rev > rev).order_by(papers.c.rev).limit(limit)
    return [(int(r.rev), paper_from_row(r), bool(r.hidden)) for r in conn.execute(q)]


def max_rev(conn: Connection) -> int:
    """The highest change number handed out so far."""
    return int(
        conn.execute(sa.select(counters.c.value).where(counters.c.name == "paper_rev")).scalar_one()
    )


def set_hidden(conn: Connection, paper_id: str, hidden: bool) -> bool:
    """Hide or show a paper; True when it exists."""
    rev = next_revs(conn, 1)
    res = conn.execute(
        sa.update(papers)
        .where(papers.c.id == paper_id)
        .values(hidden=hidden, rev=rev, modified_at=_now())
    )
    return bool(res.rowcount)


def newest_published(
    conn: Connection,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
    only: FeedFilter | None = None,
) -> list[Paper]:
    """Visible papers by publication time, newest first, after a (published, id) keyset cursor."""
    q = sa.select(*paper_columns()).where(
        papers.c.hidden == sa.false(), papers.c.published.is_not(None)
    )
    if after is not None:
        when, pid = after
        q = q.where(
            sa.or_(
                papers.c.published < when,
                sa.and_(papers.c.published == when, papers.c.id < pid),
            )
        )
    q = q.order_by(papers.c.published.desc(), papers.c.id.desc()).limit(limit)
    return [paper_from_row(r) for r in conn.execute(narrowed(q, only))]


def set_links(
    conn: Connection, paper_id: str, *, github_repo: str | None, project_page: str | None
) -> bool:
    """Replace a paper's GitHub and project links (None clears one); True when it exists.

    The links are then the paper's own: later harvests leave them as they are.
    """
    rev, now = next_revs(conn, 1), _now()
    res = conn.execute(
        sa.update(papers)
        .where(papers.c.id == paper_id)
        .values(
            github_repo=github_repo,
            project_page=project_page,
            links_edited_at=now,
            rev=rev,
            modified_at=now,
        )
    )
    return bool(res.rowcount)


# --- bio: the categories to browse, per source (docs/biorxiv.md) ---


def category_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(source, primary category, visible papers) for every primary category in use."""
    n = sa.func.count()
    q = (
        sa.select(papers.c.source, papers.c.primary_category, n)
        .where(papers.c.hidden == sa.false(), papers.c.primary_category.is_not(None))
        .group_by(papers.c.source, papers.c.primary_category)
        .order_by(papers.c.source, papers.c.primary_category)
    )
    return [(r[0], r[1], int(r[2])) for r in conn.execute(q)]


# --- bio: selects narrowed by source and category (docs/biorxiv.md) ---


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def category_clause(category: str) -> Any:
    """Papers listing a category ('cs.cl'), or any category of an archive ('cs', 'biorxiv')."""
    text = sa.cast(papers.c.categories, sa.Text)
    exact = "." in category
    pattern = f'%"{_like(category)}"%' if exact else f'%"{_like(category)}.%'
    return text.ilike(pattern, escape="\\")


def narrowed(q: Any, only: FeedFilter | None) -> Any:
    """A select over papers narrowed to the filter's sources and categories."""
    if not only:
        return q
    if only.sources:
        q = q.where(papers.c.source.in_(list(only.sources)))
    if only.categories:
        q = q.where(sa.or_(*(category_clause(c) for c in only.categories)))
    return q

"""Paper identities: every arXiv id, preprint DOI and journal DOI a stored paper is known by."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.errors import InvalidId
from paperfeed.models import Paper
from paperfeed.normalize import parse_paper_id
from paperfeed.store.db import insert_for
from paperfeed.store.schema import paper_identities, papers

_CHUNK = 500  # values per IN (...) lookup


def identity_key(value: str) -> str:
    """The stored form of an identity: DOIs ignore case, so they are kept lower-cased."""
    v = value.strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if v.lower().startswith(prefix):
            v = v[len(prefix) :]
    return v.lower() if v.startswith("10.") else v


def identities_of(p: Paper) -> list[tuple[str, str]]:
    """The (value, kind) identities a record names: its own id, and its DOI when it has one."""
    out = [(identity_key(p.id), p.source)]
    if p.doi:
        key = identity_key(p.doi)
        try:
            kind = parse_paper_id(key).source if key.startswith("10.1101/") else "journal"
        except InvalidId:
            kind = "journal"
        if key != out[0][0]:
            out.append((key, kind))
    return out


def lookup(conn: Connection, values: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Stored identities by value: the paper each names and that paper's source."""
    vals = list(dict.fromkeys(values))
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(vals), _CHUNK):
        q = (
            sa.select(paper_identities.c.value, paper_identities.c.paper_id, papers.c.source)
            .join(papers, papers.c.id == paper_identities.c.paper_id)
            .where(paper_identities.c.value.in_(vals[i : i + _CHUNK]))
        )
        out.update({r.value: (r.paper_id, r.source) for r in conn.execute(q)})
    return out


def plan_links(
    conn: Connection, batch: Sequence[Paper], existing: dict[str, Any]
) -> tuple[dict[str, str], set[str]]:
    """Which incoming papers are another source's record of a stored paper, and which are new links."""
    # A record is the same paper when one of its identities (its DOI, a journal DOI) already
    # names a paper of another source; records of one source stay apart (two bioRxiv preprints
    # merged into one article are two papers).
    known = lookup(conn, (v for p in batch for v, _ in identities_of(p)))
    for pid, row in existing.items():
        known.setdefault(identity_key(pid), (pid, row.source))
    links: dict[str, str] = {}
    fresh: set[str] = set()
    for p in batch:
        own = identity_key(p.id)
        if own in known and known[own][0] != p.id:
            links[p.id] = known[own][0]  # already linked earlier
            continue
        target = next(
            (
                known[v][0]
                for v, _ in identities_of(p)
                if v in known and known[v][0] != p.id and known[v][1] != p.source
            ),
            None,
        )
        if target is not None:
            links[p.id] = links.get(target, target)
            fresh.add(p.id)
        for v, _ in identities_of(p):
            known.setdefault(v, (links.get(p.id, p.id), p.source))
    return links, fresh


def record(conn: Connection, batch: Sequence[Paper], links: dict[str, str]) -> None:
    """Store the identities of stored or linked papers; an identity already stored keeps its paper."""
    rows: dict[str, dict[str, str]] = {}
    for p in batch:
        owner = links.get(p.id, p.id)
        for value, kind in identities_of(p):
            rows.setdefault(value, {"value": value, "kind": kind, "paper_id": owner})
    if rows:
        stmt = insert_for(conn, paper_identities).values(list(rows.values()))
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["value"]))


def repoint(conn: Connection, old: str, new: str) -> None:
    """Make every identity of paper `old` name paper `new` (a late link between two records)."""
    conn.execute(
        sa.update(paper_identities).where(paper_identities.c.paper_id == old).values(paper_id=new)
    )


def canonical(conn: Connection, value: str) -> str | None:
    """The id of the stored paper an arXiv id or DOI names, or None."""
    q = sa.select(paper_identities.c.paper_id).where(
        paper_identities.c.value == identity_key(value)
    )
    return conn.execute(q).scalar_one_or_none()


def canonical_many(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """For ids that are aliases of another paper (linked records), the paper they name."""
    wanted = {identity_key(i): i for i in ids}
    return {
        wanted[value]: pid
        for value, (pid, _) in lookup(conn, wanted).items()
        if pid != wanted[value]
    }


def identities_for(conn: Connection, paper_id: str) -> list[tuple[str, str]]:
    """Every (kind, value) identity of a paper: own id first, then other sources, then journals."""
    q = sa.select(paper_identities.c.kind, paper_identities.c.value).where(
        paper_identities.c.paper_id == paper_id
    )
    rank = {"journal": 2}
    rows = [(r.kind, r.value) for r in conn.execute(q)]
    return sorted(rows, key=lambda kv: (kv[1] != identity_key(paper_id), rank.get(kv[0], 1), kv))

"""Incremental follow matching: papers stored since the last run against every member's follows.

Authors, organizations, categories and paper versions are looked up by key; saved keyword
searches run over a throwaway in-memory Tantivy index of just the new papers; "meaning" searches
and collections compare the new papers' vectors. Matches, their notifications and chat alerts are
written with the watermark in one transaction, so a crash repeats a batch instead of losing or
doubling it (matches and notifications are unique per follow+paper and per member+key).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

import numpy as np
from sqlalchemy.engine import Connection

from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError
from paperfeed.models import Paper
from paperfeed.normalize import author_slug
from paperfeed.search.lexical import LexicalIndex
from paperfeed.search.query import Query, QueryError, parse
from paperfeed.search.vectors import from_bytes
from paperfeed.store import Database
from paperfeed.store import chat as store_chat
from paperfeed.store import follows as store_follows
from paperfeed.store import notifications as store_notes
from paperfeed.store import papers as store_papers
from paperfeed.store.follows import Follow, Match
from paperfeed.store.locks import job_lock

log = logging.getLogger(__name__)

LOCK = "follows_match"
VECTOR_KINDS = ("collection",)

# Called inside the matching transaction with the new matches (chat alerts plug in here).
MatchHook = Callable[[Connection, Settings, list[Match], dict[str, Paper]], None]
HOOKS: list[MatchHook] = []


@dataclass
class MatchReport:
    """What one matching run did."""

    papers: int = 0  # changed papers looked at
    vectors: int = 0  # changed vectors looked at
    matches: int = 0  # new matches recorded
    busy: bool = False  # another matcher held the lock
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """A one-line summary for the CLI and logs."""
        if self.busy:
            return "follows: another matcher is running; skipped"
        return (
            f"follows: {self.papers} changed paper(s), {self.vectors} vector(s), "
            f"{self.matches} new match(es) in {self.seconds:.1f}s"
        )


Candidate = tuple[Paper, datetime]  # a changed visible paper and when it was first stored


def _new_for(f: Follow, stored_at: datetime) -> bool:
    # A follow reports papers that arrived after it was made, not the back catalogue.
    return f.created_at is None or stored_at >= f.created_at


def _keys(p: Paper) -> dict[str, set[str]]:
    cats: set[str] = set()
    for c in p.categories:
        c = c.strip().lower()
        if c:
            cats.update((c, c.split(".", 1)[0]))
    return {
        "author": {s for s in (author_slug(a) for a in p.authors) if s},
        "org": {p.organization.name.lower()} if p.organization else set(),
        "category": cats,
    }


def lookup_matches(
    conn: Connection, candidates: Sequence[Candidate]
) -> list[tuple[int, int, str, int]]:
    """(follow, member, paper, version) for follows of authors, orgs, categories, versions."""
    keyed = [(p, at, _keys(p)) for p, at in candidates]
    out: list[tuple[int, int, str, int]] = []
    for kind in ("author", "org", "category"):
        wanted = {k for _, _, keys in keyed for k in keys[kind]}
        by_target: dict[str, list[Follow]] = defaultdict(list)
        for f in store_follows.by_targets(conn, kind, wanted):
            by_target[f.target].append(f)
        if not by_target:
            continue
        for p, at, keys in keyed:
            hit: set[int] = set()
            for k in keys[kind]:
                for f in by_target.get(k, ()):
                    if f.id not in hit and _new_for(f, at):
                        hit.add(f.id)
                        out.append((f.id, f.user_id, p.id, 0))
    for f in store_follows.by_targets(conn, "paper_version", [p.id for p, _ in candidates]):
        paper = next(p for p, _ in candidates if p.id == f.target)
        if paper.version > int(f.data.get("version") or 0):
            out.append((f.id, f.user_id, paper.id, paper.version))
    return out


def parsed_searches(follows: Sequence[Follow]) -> dict[str, tuple[Query, list[Follow]]]:
    """Keyword search follows grouped by query text, each text parsed once (bad ones dropped)."""
    groups: dict[str, tuple[Query, list[Follow]]] = {}
    for f in follows:
        text = str(f.data.get("query") or f.target)
        if f.data.get("mode", "keywords") != "keywords":
            continue
        if text in groups:
            groups[text][1].append(f)
            continue
        try:
            q = parse(text)
        except QueryError:
            continue  # stored before a rule changed; the settings page shows it as invalid
        if q.is_empty or q.arxiv_id:
            continue
        groups[text] = (q, [f])
    return groups


def search_matches(
    searches: dict[str, tuple[Query, list[Follow]]], candidates: Sequence[Candidate]
) -> list[tuple[int, int, str, int]]:
    """(follow, member, paper, 0) for saved searches, run over an index of only these papers."""
    if not searches or not candidates:
        return []
    index = LexicalIndex.in_memory(p for p, _ in candidates)
    stored = {p.id: at for p, at in candidates}
    out: list[tuple[int, int, str, int]] = []
    for q, group in searches.values():
        try:
            ids = index.matching_ids(q, limit=len(candidates))
        except QueryError:
            continue
        for pid in ids:
            out.extend((f.id, f.user_id, pid, 0) for f in group if _new_for(f, stored[pid]))
    return out


def _notify(conn: Connection, matches: list[Match], papers: dict[str, Paper]) -> None:
    rows = []
    for m in matches:
        title = papers[m.paper_id].title if m.paper_id in papers else m.paper_id
        if m.version:
            text = f"Version {m.version} of “{title}”"
        else:
            text = f"New for {m.label}: “{title}”"
        rows.append((m.user_id, f"match:{m.id}", "match", m.paper_id, text))
    store_notes.add_many(conn, rows)


def _chat(
    conn: Connection, settings: Settings, matches: list[Match], papers: dict[str, Paper]
) -> None:
    """One chat alert per match and channel, queued in the matching transaction (docs/chat.md)."""
    base = settings.base_url.rstrip("/")
    for m in matches:
        title = papers[m.paper_id].title if m.paper_id in papers else m.paper_id
        heading = f"Version {m.version}" if m.version else f"New for {m.label}"
        url = f"{base}/papers/{quote(m.paper_id)}"
        store_chat.enqueue_alert(conn, m.user_id, f"match:{m.id}", heading, title, url)


def _deliver(
    conn: Connection,
    settings: Settings,
    rows: list[tuple[int, int, str, int]],
    papers: dict[str, Paper],
) -> int:
    new = store_follows.record_matches(conn, rows)
    if not new:
        return 0
    labelled = {
        m.id: m for m in store_follows.matches_by_id(conn, [m.id for m in new])
    }  # with the follow's label and kind
    full = [labelled[m.id] for m in new if m.id in labelled]
    _notify(conn, full, papers)
    _chat(conn, settings, full, papers)
    for hook in HOOKS:
        hook(conn, settings, full, papers)
    return len(full)


def _paper_pass(db: Database, settings: Settings, report: MatchReport) -> None:
    batch = max(1, settings.follow_match_batch)
    while True:
        with db.read() as conn:
            wm = store_follows.watermark(conn)
            if wm is None:
                return  # nothing was ever followed: the first follow sets the watermark
            changed = store_follows.changed_papers(conn, wm, limit=batch)
            if not changed:
                return
            oldest = store_follows.oldest_created(conn)
            candidates = [(p, at) for _, p, at, hidden in changed if not hidden]
            # Only papers stored after the oldest follow can be news to a saved search.
            fresh = [c for c in candidates if oldest is not None and c[1] >= oldest]
            rows = lookup_matches(conn, candidates)
            searches = parsed_searches(store_follows.of_kinds(conn, ["search"]))
        rows += search_matches(searches, fresh)
        papers = {p.id: p for p, _ in candidates}
        with db.write() as conn:
            if store_follows.watermark(conn) != wm:
                report.notes.append("the watermark moved under this run; stopped")
                return
            report.matches += _deliver(conn, settings, rows, papers)
            store_follows.set_watermark(conn, changed[-1][0])
        report.papers += len(changed)


def _query_vectors(
    settings: Settings, follows: Sequence[Follow], cache: dict[str, np.ndarray]
) -> dict[int, np.ndarray]:
    texts = {
        str(f.data.get("query") or "")
        for f in follows
        if f.kind == "search" and f.data.get("mode") == "meaning"
    }
    todo = sorted(t for t in texts if t and t not in cache)
    if todo:
        from paperfeed.search.embed import get_embedder

        emb = get_embedder(settings.embed_model, threads=settings.embed_threads)
        for t, v in zip(todo, emb.embed([parse(t).text or t for t in todo]), strict=True):
            cache[t] = np.asarray(v, dtype=np.float32)
    out = {}
    for f in follows:
        t = str(f.data.get("query") or "")
        if f.kind == "search" and t in cache:
            out[f.id] = cache[t]
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n else v


def _vector_pass(db: Database, settings: Settings, report: MatchReport) -> None:
    name = store_follows.VECTOR_WATERMARK
    cache: dict[str, np.ndarray] = {}
    batch = max(1, settings.follow_match_batch)
    while True:
        with db.read() as conn:
            wm = store_follows.watermark(conn, name)
            if wm is None:
                return
            follows = [
                f
                for f in store_follows.of_kinds(conn, ["search", *VECTOR_KINDS])
                if f.kind != "search" or f.data.get("mode") == "meaning"
            ]
            changed = store_follows.changed_vectors(conn, wm, limit=batch)
            if not changed:
                return
            cols = [int(f.data.get("collection") or 0) for f in follows if f.kind == "collection"]
            col_vecs = store_follows.collection_vectors(conn, cols)
            col_papers = store_follows.collection_papers(conn, cols)
        targets: dict[int, np.ndarray] = {}
        try:
            targets.update(_query_vectors(settings, follows, cache))
        except PaperfeedError as exc:
            report.notes.append(f"meaning searches skipped: {exc}")
        for f in follows:
            vs = (
                col_vecs.get(int(f.data.get("collection") or 0)) if f.kind == "collection" else None
            )
            if vs:
                targets[f.id] = _unit(np.mean([from_bytes(b) for b in vs], axis=0))
        rows: list[tuple[int, int, str, int]] = []
        if targets and changed:
            matrix = np.stack([from_bytes(v) for _, _, v, _ in changed])
            for f in follows:
                t = targets.get(f.id)
                if t is None or t.shape[0] != matrix.shape[1]:
                    continue
                scores = matrix @ t
                mine = col_papers.get(int(f.data.get("collection") or 0), set())
                for i in np.nonzero(scores >= settings.follow_similarity)[0]:
                    _, pid, _, at = changed[int(i)]
                    if pid not in mine and _new_for(f, at):
                        rows.append((f.id, f.user_id, pid, 0))
        with db.write() as conn:
            if store_follows.watermark(conn, name) != wm:
                return
            papers = store_papers.get_papers(conn, sorted({r[2] for r in rows})) if rows else {}
            report.matches += _deliver(conn, settings, rows, papers)
            store_follows.set_watermark(conn, changed[-1][0], name)
        report.vectors += len(changed)


def match_new(db: Database, settings: Settings) -> MatchReport:
    """Match what was stored since the last run against the follows; safe to run any time."""
    report = MatchReport()
    started = time.perf_counter()
    with job_lock(db, LOCK) as lock:
        if lock is None:
            report.busy = True
            return report
        _paper_pass(db, settings, report)
        _vector_pass(db, settings, report)
    report.seconds = time.perf_counter() - started
    return report

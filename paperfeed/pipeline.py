"""The write path: records from sources go through normalize into the store in batches."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy.engine import Connection

from paperfeed.models import FeedEntry, ImportRecord, Signal, UpsertCounts
from paperfeed.sources.files import LineError, export_record, read_file
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import identities as identity_store
from paperfeed.store import ops as store_ops
from paperfeed.store import papers as paper_store
from paperfeed.store import signals as signal_store

BATCH = 1000  # records per write transaction: large enough to amortise commits, small for memory
ANALYZE_AFTER = 5000  # new or changed papers in one import that refresh the planner statistics


def store_records(conn: Connection, records: Sequence[ImportRecord]) -> UpsertCounts:
    """Upsert papers, then their feed entries and signals, in the caller's transaction."""
    counts = paper_store.upsert_papers(conn, [r.paper for r in records])
    entries: list[FeedEntry] = [e for r in records for e in r.entries]
    signals: list[Signal] = [s for r in records for s in r.signals]
    # A record linked to another source's paper lists and signals that paper.
    alias = identity_store.canonical_many(conn, {r.paper.id for r in records})
    if alias:
        for e in entries:
            e.paper_id = alias.get(e.paper_id, e.paper_id)
        for s in signals:
            s.paper_id = alias.get(s.paper_id, s.paper_id)
    feed_store.add_entries(conn, entries)
    signal_store.add_signals(conn, signals)
    return counts


@dataclass
class ImportSummary:
    """What an import did, per file and in total."""

    counts: UpsertCounts = field(default_factory=UpsertCounts)
    records: int = 0
    errors: list[LineError] = field(default_factory=list)
    files: int = 0

    def line(self) -> str:
        """A one-line summary for the CLI."""
        c = self.counts
        return (
            f"{self.files} file(s), {self.records} record(s): {c.new} new, {c.updated} updated, "
            f"{c.unchanged} unchanged, {len(self.errors)} error(s)"
        )


def import_files(
    db: Database,
    paths: Iterable[Path],
    *,
    on_progress: Callable[[int], None] | None = None,
    on_error: Callable[[LineError], None] | None = None,
    batch_size: int = BATCH,
) -> ImportSummary:
    """Stream files into the store in batches; bad records are reported and skipped."""
    summary = ImportSummary()
    for path in paths:
        summary.files += 1
        batch: list[ImportRecord] = []
        for item in read_file(Path(path)):
            if isinstance(item, LineError):
                summary.errors.append(item)
                summary.counts.errors += 1
                if on_error:
                    on_error(item)
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                _flush(db, batch, summary, on_progress)
                batch = []
        _flush(db, batch, summary, on_progress)
    if summary.counts.new + summary.counts.updated >= ANALYZE_AFTER:
        # A bulk load leaves the planner without row counts until autovacuum runs.
        with db.write() as conn:
            store_ops.analyze(conn)
    return summary


def _flush(
    db: Database,
    batch: list[ImportRecord],
    summary: ImportSummary,
    on_progress: Callable[[int], None] | None,
) -> None:
    if not batch:
        return
    with db.write() as conn:
        summary.counts.add(store_records(conn, batch))
    summary.records += len(batch)
    if on_progress:
        on_progress(len(batch))


def export_jsonl(db: Database, out: IO[str]) -> int:
    """Write every paper with its feed entries as paperfeed JSONL; return how many."""
    n = 0
    with db.read() as conn:
        for page in _pages(paper_store.iter_papers(conn), 500):
            entries = feed_store.entries_for_many(conn, [p.id for p in page])
            for p in page:
                out.write(json.dumps(export_record(p, entries.get(p.id, [])), ensure_ascii=False))
                out.write("\n")
                n += 1
    return n


def _pages(items: Iterable, size: int) -> Iterable[list]:  # type: ignore[type-arg]
    page: list = []  # type: ignore[type-arg]
    for item in items:
        page.append(item)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page

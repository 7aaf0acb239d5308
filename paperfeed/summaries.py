"""Summarize papers that have no summary, with the backend the operator configured (worker only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from paperfeed.config import Settings
from paperfeed.errors import UpstreamError
from paperfeed.sources.summarizer import Summarizer, build_summarizer, input_hash
from paperfeed.store import Database
from paperfeed.store import summaries as summary_store

log = logging.getLogger(__name__)


@dataclass
class SummaryReport:
    """What one run did: papers summarized, unchanged since their summary, failed."""

    written: int = 0
    unchanged: int = 0
    failed: list[str] = field(default_factory=list)


def summarize_papers(
    settings: Settings,
    db: Database,
    *,
    limit: int | None = None,
    summarizer: Summarizer | None = None,
) -> SummaryReport:
    """Write summaries for up to `limit` papers lacking one; nothing happens with the "none" backend."""
    backend = summarizer or build_summarizer(settings)
    report = SummaryReport()
    if backend is None:
        return report
    try:
        _summarize(db, backend, limit if limit is not None else settings.summarizer_batch, report)
    finally:
        if summarizer is None:
            backend.close()
    return report


def _summarize(db: Database, backend: Summarizer, limit: int, report: SummaryReport) -> None:
    with db.read() as conn:
        todo = summary_store.papers_lacking(conn, limit=limit)
        known = summary_store.hashes_of(conn, [pid for pid, *_ in todo])
    for pid, version, title, abstract in todo:
        digest = input_hash(backend.model, title, abstract)
        now = datetime.now(UTC).replace(tzinfo=None)
        if known.get(pid) == digest:
            with db.write() as conn:
                summary_store.touch_summary(conn, pid, version)
            report.unchanged += 1
            continue
        try:
            text = backend.summarize(title, abstract)
        except UpstreamError as exc:
            log.warning("summary of %s: %s", pid, exc)
            report.failed.append(pid)
            continue
        # The answer only ever becomes this paper's summary text: nothing in it is acted on.
        with db.write() as conn:
            summary_store.save_summary(
                conn, summary_store.Summary(pid, version, backend.model, digest, text, now)
            )
        report.written += 1

"""Fetch arXiv's HTML for papers, parse it and store the full text: in batches, resumable, retried."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.errors import UpstreamError
from paperfeed.models import FullText, Paper, Reference, TextSection
from paperfeed.normalize import is_arxiv_id, valid_paper
from paperfeed.sources import arxiv_html
from paperfeed.sources.http import HttpClient
from paperfeed.store import fulltexts as store
from paperfeed.store import papers as paper_store
from paperfeed.store.db import Database

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # a paper failing this often is left alone until asked for by --ids
MISSING_RETRY = timedelta(days=7)  # arXiv converts most new papers within days of announcement
MISSING_ATTEMPTS = 3  # a paper with no HTML after three weekly looks likely never gets one
FAILED_RETRY = timedelta(hours=1)  # doubles per attempt: 1 h, 2 h, 4 h ... at most a week
# Parsed from real LaTeXML pages by scripts/build_demo_fulltexts.py, for `serve --demo`.
DEMO_FULLTEXTS = Path(__file__).resolve().parent / "data" / "demo_fulltexts.json.gz"


@dataclass(slots=True)
class FetchSummary:
    """What one full-text run did."""

    fetched: int = 0  # stored with text
    missing: int = 0  # no HTML, or a conversion without a paper in it
    failed: int = 0  # network or server errors, retried later
    unchanged: int = 0  # fetched again, same text
    linked: int = 0  # references pointing at papers of this instance after the run
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        """A one-line report for the CLI and the worker log."""
        return (
            f"full text: {self.fetched} stored ({self.unchanged} unchanged), {self.missing} "
            f"without HTML, {self.failed} failed; {self.linked} references link to local papers"
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _missing(db: Database, paper: Paper, url: str, reason: str, summary: FetchSummary) -> None:
    pid = paper.id
    with db.write() as conn:
        old = store.get(conn, pid)
        n = (old.attempts if old and old.status == "missing" else 0) + 1
        retry = _now() + MISSING_RETRY * n if n < MISSING_ATTEMPTS else None
        store.record_failure(
            conn, pid, url, status="missing", error=reason, retry_at=retry, version=paper.version
        )
    summary.missing += 1


def fetch_one(
    db: Database, settings: Settings, client: HttpClient, pid: str, summary: FetchSummary
) -> None:
    """Fetch, parse and store one paper's HTML, recording a miss or failure for a later retry."""
    with db.read() as conn:
        paper = paper_store.get_paper(conn, pid, include_hidden=True)
    if paper is None:
        summary.errors.append(f"{pid}: no such paper in this instance")
        return
    url = arxiv_html.html_url(settings.arxiv_html_url, pid, paper.version)
    if not is_arxiv_id(pid):
        _missing(db, paper, url, "not an arXiv paper: arXiv serves no HTML for it", summary)
        return
    try:
        resp = client.get(url, accept=(404, 410))
    except UpstreamError as exc:
        with db.write() as conn:
            old = store.get(conn, pid)
            n = old.attempts if old and old.status == "failed" else 0
            retry = _now() + min(FAILED_RETRY * (2**n), timedelta(days=7))
            store.record_failure(
                conn,
                pid,
                url,
                status="failed",
                error=str(exc),
                retry_at=retry,
                version=paper.version,
            )
        summary.failed += 1
        summary.errors.append(f"{pid}: {exc}")
        return
    if resp.status_code in (404, 410):
        _missing(db, paper, url, f"HTTP {resp.status_code}: arXiv has no HTML for it", summary)
        return
    parsed = arxiv_html.parse(resp.content)
    if parsed is None:
        _missing(db, paper, url, "the HTML holds no paper (a failed LaTeX conversion)", summary)
        return
    with db.write() as conn:
        changed = store.save(conn, pid, url, parsed, version=paper.version)
    summary.fetched += 1
    summary.unchanged += 0 if changed else 1


def fetch_fulltexts(
    db: Database,
    settings: Settings,
    *,
    ids: Sequence[str] | None = None,
    limit: int | None = None,
    client: HttpClient | None = None,
) -> FetchSummary:
    """Fetch the given papers, or the next due ones (new first, then retries), one commit each."""
    summary = FetchSummary()
    if ids:
        todo = list(dict.fromkeys(ids))
    else:
        with db.read() as conn:
            todo = store.due(
                conn, limit=limit or settings.fulltext_batch, max_attempts=MAX_ATTEMPTS
            )
    own = client is None
    http = client or HttpClient(settings)
    try:
        for pid in todo:
            # Each paper commits on its own: a run stopped half-way resumes with the next one.
            fetch_one(db, settings, http, pid, summary)
    finally:
        if own:
            http.close()
    with db.write() as conn:
        # Papers harvested since a citing paper was stored resolve now.
        summary.linked = store.resolve(conn)
    return summary


def run_job(settings: Settings, db: Database) -> FetchSummary | None:
    """The worker's job: one batch when PAPERFEED_FULLTEXT_ENABLED is on, else nothing."""
    if not settings.fulltext_enabled:
        log.debug("full text: PAPERFEED_FULLTEXT_ENABLED is off; nothing fetched")
        return None
    summary = fetch_fulltexts(db, settings)
    log.info("%s", summary.line())
    return summary


def load_bundled(db: Database, path: Path = DEMO_FULLTEXTS) -> int:
    """Store the bundled papers and their parsed full texts (the demo's); returns how many."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        entries = json.load(fh)
    with db.write() as conn:
        for e in entries:
            p = e["paper"]
            paper = valid_paper(  # as any source's records: cleaned of control characters
                Paper(
                    id=p["id"],
                    title=p["title"],
                    abstract=p["abstract"],
                    authors=list(p["authors"]),
                    categories=list(p["categories"]),
                    version=int(p["version"]),
                    license=p["license"],
                )
            )
            if paper_store.get_paper(conn, paper.id, include_hidden=True) is None:
                paper_store.upsert_papers(conn, [paper])
            f = e["fulltext"]
            ft = FullText(
                f["title"],
                [TextSection(**s) for s in f["sections"]],
                [Reference(**r) for r in f["references"]],
            )
            store.save(conn, paper.id, e["source_url"], ft, version=paper.version)
        store.resolve(conn)
    return len(entries)

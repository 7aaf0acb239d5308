"""Ask the Hub which models, datasets and Spaces cite recently featured papers, and store the answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from paperfeed.config import Settings
from paperfeed.errors import UpstreamError
from paperfeed.normalize import is_arxiv_id
from paperfeed.sources.hf_hub import KINDS, fetch_citing
from paperfeed.sources.http import HttpClient
from paperfeed.store import Database
from paperfeed.store import hub_links as link_store

log = logging.getLogger(__name__)


@dataclass
class LinksReport:
    """What one run did: papers refreshed, repos counted, papers that failed (kept for the next run)."""

    papers: int = 0
    repos: int = 0
    failed: list[str] = field(default_factory=list)


def refresh_hub_links(
    settings: Settings,
    db: Database,
    ids: Sequence[str] | None = None,
    *,
    limit: int | None = None,
    client: HttpClient | None = None,
) -> LinksReport:
    """Fetch the citing repos of the given papers, or of the featured papers most in need of it."""
    now = datetime.now(UTC).replace(tzinfo=None)
    if ids is None:
        with db.read() as conn:
            ids = link_store.papers_to_refresh(
                conn,
                featured_since=(now - timedelta(days=settings.hub_links_days)).date(),
                stale_before=now - timedelta(days=settings.hub_links_refresh_days),
                limit=limit if limit is not None else settings.hub_links_batch,
            )
    # The Hub's filter knows arXiv ids only; papers from other sources have no listing to ask for.
    ids = [pid for pid in ids if is_arxiv_id(pid)]
    report = LinksReport()
    http = client or HttpClient(settings)
    try:
        for pid in ids:
            try:
                found = [
                    fetch_citing(
                        http,
                        settings.hf_hub_url,
                        pid,
                        kind,
                        keep=settings.hub_links_keep,
                        max_pages=settings.hub_links_max_pages,
                    )
                    for kind in KINDS
                ]
            except UpstreamError as exc:
                # One paper's failure leaves its old answer in place and the rest of the run going.
                log.warning("hub links for %s: %s", pid, exc)
                report.failed.append(pid)
                continue
            with db.write() as conn:
                for c in found:
                    link_store.save_links(conn, pid, c.kind, c.repos, c.total, c.complete, now)
            report.papers += 1
            report.repos += sum(c.total for c in found)
    finally:
        if client is None:
            http.close()
    return report

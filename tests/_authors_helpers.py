"""Papers for author-page and claim tests: two people called Wei Wang, odd names, an organization."""

from __future__ import annotations

from datetime import date, datetime

from paperfeed.models import FeedEntry, Organization, Paper
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store

DAY = date(2026, 11, 20)
LAB = Organization("64f0c0ffee", "example-lab", "Example Lab", "https://example.org/lab.png")


def _paper(
    pid: str,
    authors: list[str],
    cats: list[str],
    day: int,
    *,
    upvotes: int = 0,
    doi: str | None = None,
    org: Organization | None = None,
) -> Paper:
    return Paper(
        id=pid,
        title=f"Paper {pid}",
        abstract="We study things.",
        authors=authors,
        categories=cats,
        published=datetime(2026, 11, day),
        upvotes=upvotes,
        doi=doi,
        organization=org,
    )


# Wei Wang the vision researcher (co-author Li Na, cs.CV) and Wei Wang the physicist (hep-th).
PAPERS = [
    _paper("2611.00001", ["Wei Wang", "Li Na"], ["cs.CV"], 1, upvotes=5, org=LAB),
    _paper("2611.00002", ["Li Na", "WEI WANG", "Chen Bo"], ["cs.CV", "cs.LG"], 3, upvotes=7),
    _paper("2611.00003", ["Chen Bo", "Wéi Wáng"], ["cs.CV"], 5, upvotes=1, org=LAB),
    _paper("2611.00004", ["Wei Wang", "Ivan Petrov"], ["hep-th"], 2, upvotes=2),
    _paper("2611.00005", ["Ivan Petrov", "Wei Wang"], ["hep-th", "gr-qc"], 4, upvotes=3),
    # Alone in cs.CV: no shared co-author, so it joins the cs.CV person by category.
    _paper("2611.00006", ["Wei Wang"], ["cs.CV"], 6),
    _paper("2611.00007", ["李 飞飞", "José García", "Y.", "et al."], ["cs.AI"], 7, org=LAB),
    _paper(
        "2611.00008",
        ["Ada Lovelace", "Charles Babbage"],
        ["cs.LG"],
        8,
        doi="10.1007/s10957-021-01823-0",  # listed in the recorded ORCID works
    ),
]


def add_author_papers(db: Database) -> list[str]:
    """Store PAPERS, each featured on DAY; return their ids."""
    with db.write() as conn:
        paper_store.upsert_papers(conn, PAPERS)
        feed_store.add_entries(conn, [FeedEntry(p.id, DAY) for p in PAPERS])
    return [p.id for p in PAPERS]

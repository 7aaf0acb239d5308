"""What a source or category filter costs a feed page: the demo sample, one day and all days.

Run: python bench/feed_filter.py [--repeat 50]. Loads both bundled samples (4,902 arXiv, 101
bioRxiv/medRxiv papers) into a temporary SQLite file, then times feed_between + count_between
(what a day page reads) without a filter (the baseline), with source=medrxiv, and with a
category (a LIKE over the categories JSON), on the latest day and over every day.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from paperfeed.cli import SAMPLES
from paperfeed.models import FeedFilter
from paperfeed.pipeline import import_files
from paperfeed.store import feed as feed_store
from paperfeed.store import open_database


def main() -> None:
    """Print milliseconds per read for each filter and its ratio to the unfiltered read."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        import_files(db, SAMPLES)
        with db.read() as conn:
            latest = feed_store.latest_day(conn)
        assert latest is not None
        cases = {
            "none": None,
            "source=medrxiv": FeedFilter(("medrxiv",)),
            "cat=cs.CL": FeedFilter((), ("cs.cl",)),
            "cat=medrxiv": FeedFilter((), ("medrxiv",)),
        }
        for label, (start, end) in {
            "latest day": (latest, latest),
            "all days": (date.min, date.max),
        }.items():
            base = None
            for name, only in cases.items():
                t0 = time.perf_counter()
                for _ in range(args.repeat):
                    with db.read() as conn:
                        items = feed_store.feed_between(conn, start, end, limit=50, only=only)
                        total = feed_store.count_between(conn, start, end, only=only)
                ms = (time.perf_counter() - t0) * 1000 / args.repeat
                base = base or ms
                print(
                    f"{label:10} {name:15} {ms:7.2f} ms  x{ms / base:4.2f}  "
                    f"({len(items)} shown of {total})"
                )
        db.dispose()


if __name__ == "__main__":
    main()

"""A child process for the fault tests: import a file acknowledging each committed batch, or read."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from paperfeed.pipeline import import_files
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import papers as paper_store


def main() -> None:
    mode, url = sys.argv[1], sys.argv[2]
    db = Database(url)
    if mode == "import":
        path, batch = Path(sys.argv[3]), int(sys.argv[4])
        done = 0

        def ack(n: int) -> None:
            nonlocal done
            done += n
            # Printed only after the batch's transaction committed: the acknowledgement.
            print(f"ack {done}", flush=True)

        summary = import_files(db, [path], on_progress=ack, batch_size=batch)
        print(f"done {summary.records}", flush=True)
    elif mode == "read":
        until = time.monotonic() + float(sys.argv[3])
        reads = 0
        while time.monotonic() < until:
            with db.read() as conn:
                paper_store.count_papers(conn)
                feed_store.latest_day(conn)
            reads += 1
        print(f"reads {reads}", flush=True)
    db.dispose()


if __name__ == "__main__":
    main()

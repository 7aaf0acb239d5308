"""Match N follows against P newly stored real arXiv papers; report the seconds `match_new` takes.

Usage: python bench/follows.py [--follows 10000] [--papers 2000] [--corpus DIR]

Setup (not timed): a fresh SQLite store; 1,000 older papers from the corpus, then N follows
spread over 200 members: 50% authors (names from the corpus, so some appear in the new papers),
20% arXiv categories, 30% saved keyword searches (two or three title words, a third of them
with a cat: filter). Then P further papers are stored, as one harvest would.
Timed: one `match_new` run (author/category look-ups, an in-memory Tantivy index of the P new
papers, every saved search run over it, matches and notifications written).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.matching import match_new
from paperfeed.models import Paper
from paperfeed.normalize import author_slug
from paperfeed.store import follows as store_follows
from paperfeed.store import open_database
from paperfeed.store import papers as store_papers
from paperfeed.store import users as store_users

CORPUS = Path("/work/shared/data/arxiv_corpus")
WORDS_MIN = 5


def _papers(corpus: Path, n: int) -> list[Paper]:
    out: list[Paper] = []
    for part in sorted(corpus.glob("part-*.jsonl.gz")):
        with gzip.open(part, "rt") as fh:
            for line in fh:
                r = json.loads(line)
                authors = r.get("authors") or []
                if isinstance(authors, str):
                    authors = [a.strip() for a in authors.split(",") if a.strip()]
                cats = r.get("categories") or []
                if isinstance(cats, str):
                    cats = cats.split()
                out.append(
                    Paper(
                        id=r["id"],
                        title=r.get("title") or "",
                        abstract=r.get("abstract") or "",
                        authors=[a if isinstance(a, str) else str(a) for a in authors],
                        categories=cats,
                    )
                )
                if len(out) >= n:
                    return out
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--follows", type=int, default=10_000)
    ap.add_argument("--papers", type=int, default=2_000)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    args = ap.parse_args()
    rng = random.Random(14)
    papers = _papers(args.corpus, 1_000 + args.papers)
    old, new = papers[:1_000], papers[1_000:]
    tmp = Path(tempfile.mkdtemp())
    db = open_database(f"sqlite:///{tmp / 'bench.db'}")
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}", data_dir=str(tmp))
    with db.write() as conn:
        store_papers.upsert_papers(conn, old)
        members = [
            store_users.create_user(conn, f"m{i}@example.org", f"Member {i}", verified=True).id
            for i in range(200)
        ]
    names = [a for p in papers for a in p.authors if author_slug(a)]
    cats = sorted({c.lower() for p in papers for c in p.categories})
    words = [
        w.lower() for p in papers for w in p.title.split() if len(w) >= WORDS_MIN and w.isalpha()
    ]
    at = datetime(2026, 1, 1) - timedelta(days=1)
    with db.write() as conn:
        for i in range(args.follows):
            uid = members[i % len(members)]
            roll = rng.random()
            if roll < 0.5:
                name = rng.choice(names)
                kind, target, label, data = "author", author_slug(name), name, {}
            elif roll < 0.7:
                c = rng.choice(cats)
                kind, target, label, data = "category", c, c, {}
            else:
                q = " ".join(rng.sample(words, rng.choice((2, 3))))
                if rng.random() < 0.33:
                    q += f" cat:{rng.choice(cats)}"
                kind, target, label, data = "search", q, q, {"query": q, "mode": "keywords"}
            store_follows.add(conn, uid, kind, target, label, data, now=at)
    with db.write() as conn:
        store_papers.upsert_papers(conn, new)
    started = time.perf_counter()
    report = match_new(db, settings)
    took = time.perf_counter() - started
    print(
        f"{args.follows} follows x {len(new)} new papers: {took:.2f} s, "
        f"{report.matches} matches ({report.line()})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

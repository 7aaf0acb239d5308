"""Publish-mode benchmark: build + publish a keyword-index generation, and a web process's pick-up.

Run from the repository root, e.g.
    .venv/bin/python bench/publish.py --papers 50000 --new 1000

For the bundled demo sample and a synthetic corpus of --papers papers (the sample's titles
recombined, abstracts made of its sentences, its categories and authors), it times:
  build    the Tantivy build of the worker (sync_lexical, as `paperfeed index --no-embed`)
  publish  copying it into the shared folder as a generation + manifest (checksums included)
  pick-up  a web process fetching, verifying and opening it, answering its first query:
           from a shared folder on the same file system (hard links) and from another one
           (/dev/shm, so files are copied) — against a plain copytree of the folder (baseline)
then the same after --new more papers (the steady state: unchanged segments are linked).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.models import Paper  # noqa: E402
from paperfeed.search.publication import DirectoryPublisher, Follower, publish  # noqa: E402
from paperfeed.search.query import parse  # noqa: E402
from paperfeed.search.service import SearchEngine  # noqa: E402
from paperfeed.search.sync import Layout, indexer_lock, sync_lexical  # noqa: E402
from paperfeed.store import open_database  # noqa: E402
from paperfeed.store.papers import upsert_papers  # noqa: E402

SAMPLE = ROOT / "paperfeed" / "data" / "sample.jsonl.gz"


def sample() -> list[Paper]:
    out = []
    with gzip.open(SAMPLE, "rt") as f:
        for line in f:
            r = json.loads(line)
            p = r.get("paper", r)
            if p.get("id") and p.get("title"):
                out.append(
                    Paper(
                        id=p["id"],
                        title=p["title"],
                        abstract=p.get("abstract") or "",
                        authors=list(p.get("authors") or []),
                        categories=list(p.get("categories") or []),
                    )
                )
    return out


def synthetic(real: list[Paper], n: int, start: int = 0, seed: int = 7) -> list[Paper]:
    rng = random.Random(seed + start)
    sentences = [s.strip() + "." for p in real for s in p.abstract.split(". ") if s.strip()]
    out = []
    for i in range(start, start + n):
        a, b = rng.choice(real), rng.choice(real)
        ta, tb = a.title.split(), b.title.split()
        out.append(
            Paper(
                id=f"{2900 + i // 99999:04d}.{i % 99999 + 1:05d}",
                title=" ".join(ta[: len(ta) // 2] + tb[len(tb) // 2 :]),
                abstract=" ".join(rng.choice(sentences) for _ in range(rng.randint(4, 9))),
                authors=a.authors,
                categories=a.categories,
            )
        )
    return out


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6


def pick_up(pub: DirectoryPublisher, settings: Settings, local: Path) -> float:
    """Seconds for a web process to fetch, verify, switch to and query the newest generation."""
    engine = SearchEngine(local, settings)
    follower = Follower(pub, local / "published")
    engine.follower = None  # driven here, synchronously, instead of in a background thread
    t = time.perf_counter()
    follower.follow()
    engine.refresh()
    engine.lexical.search(parse("graph neural networks"), limit=10)
    return time.perf_counter() - t


def run(name: str, papers: list[Paper], more: list[Paper], work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shm = Path("/dev/shm") / f"paperfeed-bench-{work.name}"
    shutil.rmtree(shm, ignore_errors=True)
    db = open_database(f"sqlite:///{work / 'bench.db'}")
    for i in range(0, len(papers), 5000):
        with db.write() as conn:
            upsert_papers(conn, papers[i : i + 5000])
    layout = Layout(work / "worker" / "search")
    shared, other = DirectoryPublisher(work / "shared"), DirectoryPublisher(shm)
    web = Settings(data_dir=str(work / "web"), index_publish_dir=str(shared.root))
    print(f"\n## {name}: {len(papers):,} papers, then {len(more):,} more")
    print(
        f"{'step':<12}{'build s':>9}{'publish s':>11}{'MB':>8}{'pick-up link s':>16}"
        f"{'pick-up copy s':>16}{'copytree s':>12}"
    )
    for step, batch in (("first", []), ("incremental", more)):
        if batch:
            with db.write() as conn:
                upsert_papers(conn, batch)
        with indexer_lock(layout):
            t = time.perf_counter()
            rev, _, docs = sync_lexical(db, layout)
            build = time.perf_counter() - t
            gen = layout.lexical_generation()
            assert gen is not None
            source = layout.lexical_root / gen
            t = time.perf_counter()
            publish(shared, source, change_number=rev, docs=docs, keep=3, changed=True)
            pub_s = time.perf_counter() - t
            publish(other, source, change_number=rev, docs=docs, keep=3, changed=True)
            base_dst = work / f"copytree-{step}"
            t = time.perf_counter()
            shutil.copytree(source, base_dst)
            base = time.perf_counter() - t
            shutil.rmtree(base_dst)
        link = pick_up(shared, web, work / "web-link")
        copy = pick_up(other, web, work / "web-copy")
        print(
            f"{step:<12}{build:>9.2f}{pub_s:>11.2f}{size_mb(source):>8.1f}{link:>16.3f}"
            f"{copy:>16.3f}{base:>12.3f}"
        )
    db.dispose()
    shutil.rmtree(shm, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=50_000, help="synthetic corpus size")
    ap.add_argument("--new", type=int, default=1000, help="papers added before the second step")
    ap.add_argument("--work", type=Path, default=ROOT / "bench-data" / "publish")
    args = ap.parse_args()
    real = sample()
    run("demo sample", real, synthetic(real, args.new, start=10**6), args.work / "sample")
    run(
        "synthetic",
        synthetic(real, args.papers),
        synthetic(real, args.new, start=10**6),
        args.work / "synthetic",
    )
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()

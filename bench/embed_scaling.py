"""Embedding throughput with 1 and 2 `paperfeed worker` processes sharing one PostgreSQL queue.

    PAPERFEED_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        python bench/embed_scaling.py --papers 2000 --claim 100 --threads 1

Loads the bundled sample (real arXiv titles and abstracts) into a fresh schema, then embeds the
whole backlog with the bundled MiniLM int8 model three ways: in this process (`embed_missing`,
the baseline the local scheduler runs), with one queue worker, and with two. Each worker gets
`--threads` ONNX Runtime threads, so "2 workers" is what two machines (or two cores) of that
size give. Prints papers/s, the ratio 2 workers / 1 worker, and the projected time for all of
arXiv (2.8M papers) per worker type. The GPU line is NOT measured here (this machine has none).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.jobqueue import PART_TASK, defer_parts  # noqa: E402
from paperfeed.pipeline import import_files  # noqa: E402
from paperfeed.search.embed import OnnxMiniLM  # noqa: E402
from paperfeed.search.sync import embed_missing  # noqa: E402
from paperfeed.store import Database, open_database  # noqa: E402
from paperfeed.store import jobqueue as queue_store  # noqa: E402
from paperfeed.store.db import normalize_url  # noqa: E402
from paperfeed.store.vectors import count_to_embed  # noqa: E402

ARXIV = 2_800_000
SAMPLE = ROOT / "paperfeed" / "data" / "sample.jsonl.gz"
SCHEDULES = "index digests mail harvest_arxiv harvest_hf harvest_biorxiv rank recommend chat hub_links summaries fulltext"


def reset(db: Database) -> None:
    with db.write() as conn:
        conn.execute(sa.text("DELETE FROM paper_vectors"))
        conn.execute(sa.text("DELETE FROM procrastinate_periodic_defers"))
        conn.execute(sa.text("DELETE FROM procrastinate_events"))
        conn.execute(sa.text("DELETE FROM procrastinate_jobs"))


def queue_run(url: str, n: int, args: argparse.Namespace, tmp: Path) -> float:
    """Seconds n workers take to embed the backlog, from queueing the parts to the last save."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update({f"PAPERFEED_SCHEDULE_{s.upper()}": "" for s in SCHEDULES.split()})
    env.update(
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_JOB_QUEUE="postgres",
        PAPERFEED_DATA_DIR=str(tmp),
        PAPERFEED_EMBED_THREADS=str(args.threads),
        PAPERFEED_EMBED_CLAIM=str(args.claim),
        PAPERFEED_QUEUE_POLL="0.5",
        PYTHONPATH=str(ROOT),
    )
    db = Database(url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / f"worker-{n}-{i}.log").open("w"),
        )
        for i in range(n)
    ]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with db.read() as conn:
                live = conn.execute(sa.text("SELECT count(*) FROM procrastinate_workers")).scalar()
            if live == n:
                break
            time.sleep(0.2)
        time.sleep(2.0)  # each worker loads the model at its first job; give them a head start
        settings = Settings(database_url=url, job_queue="postgres", embed_claim=args.claim)
        start = time.perf_counter()
        defer_parts(settings, db, "index")
        while True:
            with db.read() as conn:
                left = count_to_embed(conn, OnnxMiniLM.name)
                busy = queue_store.pending(conn, PART_TASK, "index")
            if left == 0 and busy == 0:
                return time.perf_counter() - start
            time.sleep(0.25)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
        with db.write() as conn:
            conn.execute(sa.text("DELETE FROM procrastinate_workers"))
        db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--papers", type=int, default=2000)
    ap.add_argument("--claim", type=int, default=100, help="papers per queued part")
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads per worker")
    ap.add_argument(
        "--gpu-rate",
        type=float,
        default=3000.0,
        help="papers/s ASSUMED for one GPU worker (not measured here; replace with a "
        "measurement: run this script on a GPU machine with PAPERFEED_EMBED_PROVIDERS set)",
    )
    args = ap.parse_args()
    base = os.environ.get("PAPERFEED_TEST_DATABASE_URL") or sys.exit(
        "set PAPERFEED_TEST_DATABASE_URL=postgresql://... (a server this script may add a schema to)"
    )
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    tmp = Path(f"/tmp/{schema}")
    tmp.mkdir()
    try:
        db = open_database(url)
        import_files(db, [SAMPLE])
        with db.write() as conn:  # keep the first --papers papers
            conn.execute(
                sa.text(
                    "UPDATE papers SET hidden = true WHERE id NOT IN "
                    "(SELECT id FROM papers ORDER BY rev LIMIT :n)"
                ),
                {"n": args.papers},
            )
        with db.read() as conn:
            n = count_to_embed(conn, OnnxMiniLM.name)
        print(f"{n} papers, {args.claim} per part, {args.threads} ONNX thread(s) per worker")
        model = OnnxMiniLM(threads=args.threads)
        t = time.perf_counter()
        embed_missing(db, model, batch=32)
        inproc = n / (time.perf_counter() - t)
        rates = {"in-process embed_missing (baseline)": inproc}
        for workers in (1, 2):
            reset(db)
            rates[f"{workers} queue worker(s)"] = n / queue_run(url, workers, args, tmp)
        db.dispose()
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    print("| run | papers/s | 2.8M papers take |")
    print("|---|---|---|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.1f} | {ARXIV / rate / 3600:,.1f} h |")
    one, two = rates["1 queue worker(s)"], rates["2 queue worker(s)"]
    print(
        f"ratio 2 workers / 1 worker: {two / one:.2f}x; 1 worker / in-process: {one / inproc:.2f}x"
    )
    print(
        f"| 1 GPU worker, ASSUMED {args.gpu_rate:,.0f} papers/s (not measured here) | "
        f"{args.gpu_rate:,.0f} | {ARXIV / args.gpu_rate / 3600:,.1f} h |"
    )


if __name__ == "__main__":
    main()

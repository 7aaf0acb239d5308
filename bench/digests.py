"""Compose, render and send N personalised digests to a local SMTP sink; report digests/s per stage.

Usage: python bench/digests.py [--subscribers 10000] [--postgres URL]

Setup (not timed): a fresh SQLite store (or a fresh PostgreSQL schema with --postgres) loaded with
the bundled real sample (about 4,900 papers with their Hugging Face feed days); N active
subscriptions with a random mix of sections (trending, featured), daily or weekly, and a random
history of 0-30 papers already sent, so every digest is different; an aiosmtpd Sink server in a
separate process on 127.0.0.1.

Timed: `compose_due` (pick papers per subscriber, write outbox rows and sent items), then
`send_pending` (claim each row under a lock, render text + HTML, SMTP send over one connection,
mark sent). The send stage is split into render, SMTP and outbox bookkeeping.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.digest.compose import compose_due
from paperfeed.digest.send import send_pending
from paperfeed.pipeline import import_files
from paperfeed.store import Database, open_database
from paperfeed.store import feed as store_feed
from paperfeed.store import outbox as store_outbox
from paperfeed.store.schema import sent_items, subscriptions

SAMPLE = Path(__file__).resolve().parent.parent / "paperfeed" / "data" / "sample.jsonl.gz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    """An aiosmtpd server that accepts and discards every message, in its own process."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the SMTP sink did not start")


def seed(db: Database, n: int, rng: random.Random) -> datetime:
    """Load the sample and N subscriptions with personal histories; return the compose time."""
    import_files(db, [SAMPLE])
    with db.read() as conn:
        last = store_feed.latest_day(conn)
        assert last is not None
        items = store_feed.feed_between(conn, last - timedelta(days=14), last, limit=400)
        pool = list(dict.fromkeys(i.paper.id for i in items))
    now = datetime(last.year, last.month, last.day, 12)
    while now.weekday() >= 5:  # daily digests go out on weekdays
        now += timedelta(days=1)
    mixes = [["trending"], ["featured"], ["trending", "featured"]]
    created = datetime(2020, 1, 1)
    rows, history = [], []
    for i in range(n):
        rows.append(
            {
                "id": i + 1,
                "email": f"reader{i}@bench.example.org",
                "email_key": f"reader{i}@bench.example.org",
                "status": "active",
                "frequency": "weekly" if i % 5 == 0 else "daily",
                "sections": rng.choice(mixes),
                "searches": [],
                "timezone": rng.choice(["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]),
                "hour": 7,
                "unsubscribe_token": secrets.token_urlsafe(18),
                "bounce_count": 0,
                "created_at": created,
                "confirmed_at": created,
                "updated_at": created,
            }
        )
        for pid in rng.sample(pool, rng.randint(0, min(30, len(pool)))):
            history.append({"subscription_id": i + 1, "paper_id": pid, "created_at": created})
    with db.write() as conn:
        for k in range(0, len(rows), 1000):
            conn.execute(subscriptions.insert(), rows[k : k + 1000])
        for k in range(0, len(history), 5000):
            conn.execute(sent_items.insert(), history[k : k + 5000])
        if db.dialect == "postgresql":
            conn.execute(sa.text("SELECT setval('subscriptions_id_seq', :n)"), {"n": n})
    return now


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--postgres", default="", help="PostgreSQL URL to use instead of SQLite")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        schema = ""
        if args.postgres:
            from paperfeed.store.db import normalize_url

            schema = f"bench_{secrets.token_hex(4)}"
            admin = sa.create_engine(normalize_url(args.postgres), isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = open_database(url)
        t = time.perf_counter()
        now = seed(db, args.subscribers, rng)
        print(
            f"setup: {args.subscribers} subscriptions on {db.dialect} in {time.perf_counter() - t:.1f} s"
        )
        port = free_port()
        sink = start_sink(port)
        try:
            settings = Settings(
                database_url=url,
                base_url="https://papers.example.org",
                mail_backend="smtp",
                smtp_host="127.0.0.1",
                smtp_port=port,
                data_dir=tmp,
            )
            c0 = time.process_time()
            t0 = time.perf_counter()
            composed = compose_due(db, settings, now=now)
            t1 = time.perf_counter()
            sent = send_pending(db, settings)
            t2 = time.perf_counter()
            cpu = time.process_time() - c0
        finally:
            sink.terminate()
            _pid, _status, usage = os.wait4(sink.pid, 0)
            sink.returncode = 0
        sink_cpu = usage.ru_utime + usage.ru_stime
        with db.read() as conn:
            counts = store_outbox.status_counts(conn)
        db.dispose()
        if schema:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    total = t2 - t0
    compose_s, send_s = t1 - t0, t2 - t1
    render_s, smtp_s = sent.seconds["render"], sent.seconds["send"]
    book_s = send_s - render_s - smtp_s
    n = sent.sent
    print(f"composed {composed.created} digests ({composed.skipped} with nothing new); sent {n}")
    print(f"outbox: {counts}")
    print(f"total {total:.1f} s for {n} digests: {n / total:.0f} digests/s")
    for name, s in [
        ("compose (pick papers, write outbox + sent items)", compose_s),
        ("render (text + HTML, MIME)", render_s),
        ("SMTP send", smtp_s),
        ("outbox claim/mark under lock", book_s),
    ]:
        print(f"  {name:<50} {s:7.2f} s  {100 * s / total:5.1f} %")
    print(
        f"CPU: paperfeed {cpu:.1f} s, SMTP sink {sink_cpu:.1f} s "
        f"(wall clock also counts waiting for the other process and for other load)"
    )
    target = 120.0 * args.subscribers / 10_000
    print(f"target < {target:.0f} s: {'met' if total < target else 'MISSED'}")


if __name__ == "__main__":
    main()

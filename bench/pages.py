"""Page cost in-process: time and SQL statements per route for a visitor and a signed-in member,
against a bare ASGI app answering the same bytes (the floor of the web stack) in the same process.

Run from the repository root after `bench/scale.py --papers N --keep` left its database, e.g.
    .venv/bin/python bench/pages.py --papers 1000000 --rounds 40

No network: requests go through httpx's ASGI transport into the app, so the figures are the
app's own cost (routing, SQL, templates) on one core. The member has a few saved papers, votes
and a collection, so per-card look-ups have something to find. Per route: median and p95 in ms,
SQL statements per request, and the ratio of the median to the bare app's median.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loadmix import QUERIES, setup_members  # noqa: E402
from scale import PER_MONTH, month_of  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.store import library as library_store  # noqa: E402
from paperfeed.store import open_database  # noqa: E402
from paperfeed.store import users as user_store  # noqa: E402
from paperfeed.store import votes as vote_store  # noqa: E402
from paperfeed.web.app import create_app  # noqa: E402


def paper_id(i: int, n: int) -> str:
    """The id bench/scale.py gave the i-th of n papers."""
    y, m = month_of(i, n)
    return f"{y % 100:02d}{m:02d}.{i % PER_MONTH + 1:05d}"


def routes(n: int, day: str, week: str) -> dict[str, list[str]]:
    """Route name -> the paths a round cycles through."""
    step = max(1, n // 97)
    return {
        "home": ["/"],
        "day": [f"/papers/date/{day}"],
        "week": [f"/papers/week/{week}"],
        "trending": ["/papers/trending"],
        "paper": [f"/papers/{paper_id(i, n)}" for i in range(0, n, step)],
        "search_page": [f"/search?q={q}&mode=lexical" for q in QUERIES],
        "search_api": [f"/api/papers/search?q={q}&mode=lexical" for q in QUERIES],
    }


def bare_app(body: bytes) -> Any:
    """The smallest ASGI app: the same bytes for every request."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


async def timed(client: httpx.AsyncClient, path: str) -> tuple[float, int, int]:
    """(seconds, status, bytes) of one GET."""
    t = time.perf_counter()
    r = await client.get(path)
    return time.perf_counter() - t, r.status_code, len(r.content)


def member_library(url: str) -> None:
    """Give the first load member votes and saved papers among the latest featured papers."""
    db = open_database(url)
    with db.write() as conn:
        user = user_store.get_by_email(conn, "load0@example.org")
        assert user is not None
        ids = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT paper_id FROM feed_entries ORDER BY day DESC, paper_id LIMIT 60"
            )
        ]
        for pid in ids[:20]:
            vote_store.add_vote(conn, user.id, pid)
        col = library_store.get_or_create_collection(conn, user.id, "Bench")
        for pid in ids[10:40]:
            library_store.save(conn, user.id, pid, [col.id])
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--pg-db", default="bench_scale")
    ap.add_argument("--database-url", help="instead of the bench_scale PostgreSQL database")
    ap.add_argument("--work", default=str(ROOT / "bench-data"))
    ap.add_argument("--data-dir", help="with --database-url: its PAPERFEED_DATA_DIR")
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    url = args.database_url or f"postgresql://postgres@127.0.0.1:5432/{args.pg_db}"
    token = setup_members(url, 1)[0]
    member_library(url)
    settings = Settings.from_env(
        {},
        database_url=url,
        data_dir=args.data_dir or str(Path(args.work) / f"scale-{args.papers}-pg-data"),
        secret_key="pages-bench-secret",
        index_on_start=False,
    )
    db = open_database(url)
    statements = [0]

    @sa.event.listens_for(db.engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        statements[0] += 1

    app = create_app(settings, db)
    with db.read() as conn:
        latest = conn.exec_driver_sql("SELECT max(day) FROM feed_entries").scalar()
    day = str(latest)[:10]
    import datetime as dt

    y, w, _ = dt.date.fromisoformat(day).isocalendar()
    table = routes(args.papers, day, f"{y}-W{w:02d}")

    async def run() -> None:
        base = "http://bench"
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url=base) as visitor,
            httpx.AsyncClient(
                transport=transport, base_url=base, cookies={"pf_session": token}
            ) as member,
        ):
            body = (await member.get("/")).content
            bare = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=bare_app(body)), base_url=base
            )
            floor = [(await timed(bare, "/"))[0] for _ in range(args.rounds * 5)]
            floor_ms = statistics.median(floor) * 1000
            print(f"bare ASGI app, {len(body):,} bytes: median {floor_ms:.3f} ms")
            print(
                f"{'route':12} {'who':8} {'p50 ms':>8} {'p95 ms':>8} {'SQL/req':>8} {'x bare':>8}"
            )
            for name, paths in table.items():
                for who, client in (("visitor", visitor), ("member", member)):
                    for p in paths[:3]:  # warm caches, index readers and the connection pool
                        await timed(client, p)
                    lat, before = [], statements[0]
                    for i in range(args.rounds):
                        secs, status, _ = await timed(client, paths[i % len(paths)])
                        if status != 200:
                            raise SystemExit(f"{paths[i % len(paths)]}: {status}")
                        lat.append(secs)
                    per = (statements[0] - before) / args.rounds
                    lat.sort()
                    p50 = statistics.median(lat) * 1000
                    p95 = lat[int(0.95 * (len(lat) - 1))] * 1000
                    print(
                        f"{name:12} {who:8} {p50:8.1f} {p95:8.1f} {per:8.1f} {p50 / floor_ms:8.0f}"
                    )
            await bare.aclose()

    asyncio.run(run())
    db.dispose()


if __name__ == "__main__":
    main()

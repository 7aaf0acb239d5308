"""A visitor's home page under load: paperfeed serve against a bare Starlette + Jinja2 app.

Run from the repository root (wrk from Debian if installed, else a bounded httpx client):
    .venv/bin/python bench/visitor.py --seconds 10 --connections 50 --rounds 2

It loads the bundled sample into a fresh SQLite file, starts `paperfeed serve` (one process,
no background indexing) with the visitor page cache on and then off, and a bare app that
renders the latest day's 30 most upvoted papers as cards from the same file with the same
Jinja2, each on loopback. The same load generator drives each in turn, rounds interleaved;
it prints requests/s per server (median over rounds) and the ratios to the bare app. Both
show 30 cards (paperfeed with PAPERFEED_PAGE_SIZE=30).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent

CARDS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>papers</title>
<link rel="stylesheet" href="/static/style.css"></head><body><main>
<h1>Papers of {{ day }}</h1>
{% for p in papers %}<article class="card"><div class="votes">{{ p.upvotes }}</div>
<h2><a href="/papers/{{ p.id }}">{{ p.title }}</a></h2>
<p class="authors">{{ p.authors|join(', ') }}</p>
<p class="excerpt">{{ p.abstract|truncate(420) }}</p>
<p class="meta">arXiv:{{ p.id }}</p></article>
{% endfor %}</main></body></html>"""


def bare_app(db_path: str) -> Any:
    """Starlette + Jinja2: the latest day's 30 most upvoted papers, read from SQLite per request."""
    from jinja2 import Environment
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    template = Environment(autoescape=True).from_string(CARDS)
    sql = (
        "SELECT p.id, p.title, p.abstract, p.authors, p.ext_upvotes + p.votes AS upvotes "
        "FROM feed_entries f JOIN papers p ON p.id = f.paper_id "
        "WHERE f.day = (SELECT max(day) FROM feed_entries) AND p.hidden = 0 "
        "ORDER BY upvotes DESC, p.id LIMIT 30"
    )

    local = threading.local()  # one connection per worker thread, opened once

    def home(request: Any) -> HTMLResponse:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        rows = conn.execute(sql).fetchall()
        day = conn.execute("SELECT max(day) FROM feed_entries").fetchone()[0]
        papers = [
            {
                "id": r[0],
                "title": r[1],
                "abstract": r[2],
                "authors": json.loads(r[3]),
                "upvotes": r[4],
            }
            for r in rows
        ]
        return HTMLResponse(template.render(papers=papers, day=day))

    return Starlette(routes=[Route("/", home)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def start_paperfeed(
    db: Path, data: Path, cache_seconds: float
) -> tuple[str, subprocess.Popen[bytes]]:
    """`paperfeed serve` on a free loopback port, one process, no indexing or scheduler."""
    port = _free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": f"sqlite:///{db}",
        "PAPERFEED_DATA_DIR": str(data),
        "PAPERFEED_INDEX_ON_START": "false",
        "PAPERFEED_LOG_LEVEL": "warning",
        "PAPERFEED_VISITOR_CACHE_SECONDS": str(cache_seconds),
        "PAPERFEED_PAGE_SIZE": "30",  # the bare app's 30 cards
    }
    cmd = [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    _wait_up(url, proc)
    return url, proc


def start_bare(db: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """The bare app under uvicorn (same server, one process) on a free loopback port."""
    port = _free_port()
    cmd = [sys.executable, __file__, "--serve-bare", str(db), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    _wait_up(url, proc)
    return url, proc


def run_wrk(url: str, seconds: int, connections: int) -> float:
    """Requests/s that wrk measured (one thread: the server under test has the other core)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    if re.search(r"Non-2xx or 3xx responses", out):
        raise SystemExit(f"{url} answered errors under load:\n{out}")
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not m:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return float(m.group(1))


def run_httpx(url: str, seconds: int, connections: int) -> float:
    """Requests/s from `connections` closed-loop httpx clients, stopped after `seconds`."""

    async def main() -> float:
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            done = 0
            stop = time.monotonic() + seconds

            async def one() -> None:
                nonlocal done
                while time.monotonic() < stop:
                    r = await client.get(url)
                    if r.status_code != 200:
                        raise SystemExit(f"{url} answered {r.status_code} under load")
                    done += 1

            start = time.monotonic()
            await asyncio.gather(*(one() for _ in range(connections)))
            return done / (time.monotonic() - start)

    return asyncio.run(main())


def main() -> None:
    """Prepare the sample, start the three servers, drive each in turn and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="length of one load run")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2, help="runs per server, interleaved")
    ap.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    ap.add_argument("--serve-bare", metavar="DB", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_bare:
        import uvicorn

        uvicorn.run(
            bare_app(args.serve_bare), host="127.0.0.1", port=args.port, log_level="warning"
        )
        return
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "httpx"
    drive = run_wrk if client == "wrk" else run_httpx
    tmp = Path(tempfile.mkdtemp(prefix="pf-visitor-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        db = tmp / "sample.db"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "paperfeed",
                "--database-url",
                f"sqlite:///{db}",
                "init",
                "--sample",
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        servers: dict[str, str] = {}
        for name, cache in (("paperfeed, cache on", 1.0), ("paperfeed, cache off", 0.0)):
            url, proc = start_paperfeed(db, tmp / name.replace(" ", "").replace(",", "-"), cache)
            servers[name] = url
            procs.append(proc)
        url, proc = start_bare(db)
        servers["bare Starlette + Jinja2"] = url
        procs.append(proc)
        for url in servers.values():  # warm up: templates compiled, caches filled, pages paged in
            for _ in range(20):
                httpx.get(url, timeout=30).raise_for_status()
        results: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, url in servers.items():
                results[name].append(drive(url, args.seconds, args.connections))
        bare = statistics.median(results["bare Starlette + Jinja2"])
        print(
            f"client: {client}, {args.connections} connections, {args.seconds} s x {args.rounds} "
            "round(s) per server, one server process each, loopback"
        )
        for name, runs in results.items():
            rps = statistics.median(runs)
            shown = ", ".join(f"{r:.0f}" for r in runs)
            print(f"{name:26s} {rps:8.1f} requests/s  ({shown})  ratio to bare {rps / bare:.2f}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

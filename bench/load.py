"""Load test on loopback: `paperfeed serve --workers 2` on PostgreSQL, N concurrent users mixing
feed pages, paper pages, keyword searches and upvotes for a bounded time, while a harvest (from a
loopback OAI-PMH server replaying tests/fixtures/oai_pmh), a keyword index run and a digest run
happen at the same time, each started again every --job-every seconds for the whole run, at nice
10 as docs/deploy.md's worker unit runs them.

Run from the repository root after `bench/scale.py --papers N --keep` left its database:
    .venv/bin/python bench/load.py --papers 1000000 --users 50 --duration 60 --think 0

Users are real members (paperfeed.store.users / sessions) signed in by session cookie; each takes
its CSRF token from the home page and posts /vote forms like a browser. The load generator is a
thread per user (httpx), in this process, on the same 2 cores as the server: its own CPU use is
part of the measured latency. --think is the mean pause (exponential) between a user's requests;
0 is a closed loop at full speed. Per route: count, requests/s, p50/p95/p99 and 5xx/other errors;
overall p95 split by whether a background job was running when the request started.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from scale import PER_MONTH, month_of  # noqa: E402

QUERIES = [
    "pretraining",
    "large language models",
    "diffusion models for video generation",
    "reinforcement learning from human feedback",
    "dark matter halo",
    "graph neural networks",
    "vision transformer segmentation",
    "galaxy cluster weak lensing",
    "retrieval augmented generation",
    "speech recognition low-resource",
    "gravitational waves black hole merger",
    "3d gaussian splatting",
    "federated learning privacy",
    "mixture of experts",
]
# route -> weight in the mix
MIX = {
    "home": 15,
    "day": 10,
    "week": 5,
    "trending": 5,
    "paper": 20,
    "search_page": 15,
    "search_api": 15,
    "vote": 15,
}


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile of xs (seconds) in milliseconds."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000


def setup_members(url: str, users: int) -> list[str]:
    """Create (or reuse) `users` verified members with a digest subscription; return sessions."""
    from paperfeed.store import open_database
    from paperfeed.store import sessions as sess
    from paperfeed.store import subscriptions as subs
    from paperfeed.store import users as us

    db = open_database(url)
    tokens = []
    with db.write() as conn:
        for i in range(users):
            email = f"load{i}@example.org"
            user = us.get_by_email(conn, email) or us.create_user(
                conn, email, f"Load {i}", verified=True
            )
            tokens.append(sess.create_session(conn, user.id, days=1))
            if subs.get_by_email(conn, email) is None:
                subs.request(
                    conn,
                    email,
                    confirm_token_hash=f"load-{i}",
                    unsubscribe_token=f"load-unsub-{i}",
                    frequency="daily",
                    sections=["trending", "featured"],
                    timezone="UTC",
                    hour=0,
                    user_id=user.id,
                )
                subs.confirm(conn, f"load-{i}")
    db.dispose()
    return tokens


def oai_upstream() -> Any:
    """A loopback OAI-PMH server: page 1 of the recorded arXivRaw ListRecords, then the end."""
    from _harvest_helpers import OAI_HEAD, RAW_PAGE1, Reply, Upstream

    up = Upstream()
    page1 = RAW_PAGE1.read_bytes()
    last = (
        OAI_HEAD + '<ListRecords><resumptionToken completeListSize="0"/></ListRecords></OAI-PMH>'
    ).encode()

    def app(req: Any) -> Any:
        return Reply(last if "resumptionToken" in req.params else page1)

    up.app = app
    return up


class User(threading.Thread):
    """One simulated member: a cookie jar, a CSRF token, a loop of weighted requests."""

    def __init__(
        self,
        base: str,
        token: str,
        n: int,
        deadline: float,
        think: float,
        seed: int,
        out: list[tuple[str, float, int, float]],
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.n, self.deadline, self.think = base, token, n, deadline, think
        self.rng = random.Random(seed)
        self.out = out
        self.voted: set[str] = set()

    def pick_id(self) -> str:
        i = self.rng.randrange(self.n)
        y, m = month_of(i, self.n)
        return f"{y % 100:02d}{m:02d}.{i % PER_MONTH + 1:05d}"

    def pick_day(self) -> str:
        i = self.rng.randrange(self.n)
        y, m = month_of(i, self.n)
        return f"{y}-{m:02d}-{1 + (i % PER_MONTH) * 28 // PER_MONTH:02d}"

    def run(self) -> None:
        import datetime as dt

        routes, weights = list(MIX), list(MIX.values())
        with httpx.Client(base_url=self.base, timeout=30, cookies={"pf_session": self.token}) as c:
            r = c.get("/")
            m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
            csrf = m.group(1) if m else ""
            while time.monotonic() < self.deadline:
                route = self.rng.choices(routes, weights)[0]
                method, path, data = "GET", "/", None
                if route == "day":
                    path = f"/papers/date/{self.pick_day()}"
                elif route == "week":
                    y, w, _ = dt.date.fromisoformat(self.pick_day()).isocalendar()
                    path = f"/papers/week/{y}-W{w:02d}"
                elif route == "trending":
                    path = "/papers/trending"
                elif route == "paper":
                    path = f"/papers/{self.pick_id()}"
                elif route == "search_page":
                    path = f"/search?q={self.rng.choice(QUERIES)}&mode=lexical"
                elif route == "search_api":
                    path = f"/api/papers/search?q={self.rng.choice(QUERIES)}&mode=lexical"
                elif route == "vote":
                    pid = (
                        self.pick_id()
                        if not self.voted or self.rng.random() < 0.7
                        else (self.rng.choice(sorted(self.voted)))
                    )
                    action = "remove" if pid in self.voted else "up"
                    (self.voted.discard if action == "remove" else self.voted.add)(pid)
                    method, path = "POST", "/vote"
                    data = {"csrf_token": csrf, "paper_id": pid, "action": action, "next": "/"}
                t, began = time.perf_counter(), time.monotonic()
                try:
                    resp = c.request(method, path, data=data)
                    status = resp.status_code
                except httpx.HTTPError as exc:
                    status = 0
                    print(f"{method} {path}: {exc!r}", file=sys.stderr)
                if status >= 500:
                    print(f"{method} {path}: {status}", file=sys.stderr)
                self.out.append((route, time.perf_counter() - t, status, began))
                if self.think:
                    time.sleep(self.rng.expovariate(1 / self.think))


def job_commands() -> dict[str, list[str]]:
    """The background jobs: a harvest, a keyword index run and a digest run."""
    pf = str(ROOT / ".venv" / "bin" / "paperfeed")
    return {
        "harvest": [pf, "harvest", "arxiv", "--from", "2016-10-20", "-q"],
        "index": [pf, "index", "--no-embed", "-q"],
        "digest": [pf, "send-digests"],
    }


def run_jobs(
    name: str, cmd: list[str], env: dict[str, str], until: float, every: float, log: list[Any]
) -> None:
    """Run one job again and again until `until`, `every` seconds apart, at nice 10 (as the
    worker unit in docs/deploy.md runs), logging (name, start, seconds, exit code) each time."""
    while time.monotonic() < until:
        t = time.monotonic()
        p = subprocess.run(
            ["nice", "-n", "10", *cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        # The web processes take the indexer lock while they catch up with votes: exit 2 is
        # "busy, try later", which the worker's next tick would do.
        log.append((name, t, time.monotonic() - t, p.returncode, p.stderr.decode()[-200:]))
        if not every:
            return
        time.sleep(max(0.0, every - (time.monotonic() - t)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--pg-db", default="bench_scale")
    ap.add_argument("--work", default=str(ROOT / "bench-data"))
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--think", type=float, default=0.0, help="mean seconds between requests")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-background", action="store_true")
    ap.add_argument(
        "--job-every", type=float, default=15.0, help="seconds between runs of each job; 0: once"
    )
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    url = f"postgresql://postgres@127.0.0.1:5432/{args.pg_db}"
    data = Path(args.work) / f"scale-{args.papers}-pg-data"
    tokens = setup_members(url, args.users)
    env = dict(
        os.environ,
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_DATA_DIR=str(data),
        PAPERFEED_SECRET_KEY="load-bench-secret",
        PAPERFEED_WRITE_RATE_LIMIT="1000000",  # 50 members voting flat out is the point here
        PAPERFEED_MAIL_BACKEND="console",
        PAPERFEED_HTTP_MIN_INTERVAL="0",
        # serve would otherwise start embedding every paper (hours at this size) in its parent
        # process, on the same 2 cores, holding the indexer lock: vectors are out of scope here.
        PAPERFEED_INDEX_ON_START=os.environ.get("PAPERFEED_INDEX_ON_START", "false"),
    )
    base = f"http://127.0.0.1:{args.port}"
    pf = str(ROOT / ".venv" / "bin" / "paperfeed")
    server = subprocess.Popen(
        [pf, "serve", "--workers", str(args.workers), "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        # The server's log (JSON lines): where a 5xx's traceback is.
        stderr=(Path(args.work) / f"load-server-{args.papers}{args.label}.log").open("wb"),
        start_new_session=True,
    )
    up = oai_upstream()
    try:
        for _ in range(120):
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("server did not become healthy")
        with httpx.Client(base_url=base, timeout=60) as c:  # warm caches and index readers
            for q in QUERIES[:3]:
                c.get("/search", params={"q": q, "mode": "lexical"})
            c.get("/")
        out: list[tuple[str, float, int, float]] = []
        start = time.monotonic()
        deadline = start + args.duration
        users = [
            User(base, tok, args.papers, deadline, args.think, 100 + i, out)
            for i, tok in enumerate(tokens)
        ]
        for u in users:
            u.start()
        job_log: list[Any] = []
        jobs_env = dict(env, PAPERFEED_ARXIV_OAI_URL=up.url + "/oai")
        jobs = [
            threading.Thread(
                target=run_jobs,
                args=(name, cmd, jobs_env, deadline, args.job_every, job_log),
                daemon=True,
            )
            for name, cmd in ([] if args.no_background else job_commands().items())
        ]
        for j in jobs:
            j.start()
        for u in users:
            u.join()
        elapsed = time.monotonic() - start
        for j in jobs:
            j.join(timeout=600)
    finally:
        import signal

        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        up.close()
    by: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for route, secs, status, _ in out:
        by[route].append((secs, status))

    def job_running(at: float) -> bool:
        return any(t <= at < t + secs for _, t, secs, _, _ in job_log)

    busy = [secs for _, secs, _, at in out if job_running(at)]
    quiet = [secs for _, secs, _, at in out if not job_running(at)]
    report: dict[str, Any] = {
        "label": args.label,
        "papers": args.papers,
        "users": args.users,
        "think_s": args.think,
        "seconds": round(elapsed, 1),
        "requests": len(out),
        "rps": round(len(out) / elapsed, 1),
        "job_every_s": 0 if args.no_background else args.job_every,
        "jobs": {
            name: {
                "runs": len(runs := [j for j in job_log if j[0] == name]),
                "exit_codes": sorted({j[3] for j in runs}),
                "seconds_max": round(max((j[2] for j in runs), default=0), 1),
                "busy_share": round(sum(j[2] for j in runs) / elapsed, 2),
                "stderr_tail": runs[-1][4] if runs else "",
            }
            for name in sorted({j[0] for j in job_log})
        },
        "routes": {},
        "while_a_job_ran": {"n": len(busy), "p95_ms": round(pct(busy, 95), 1)},
        "no_job_running": {"n": len(quiet), "p95_ms": round(pct(quiet, 95), 1)},
    }
    print(
        f"{'route':12} {'n':>6} {'rps':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'5xx':>4} {'err':>4}"
    )
    for route in list(MIX) + ["ALL"]:
        rows = [x for r in by.values() for x in r] if route == "ALL" else by[route]
        lat = [s for s, _ in rows]
        five = sum(1 for _, st in rows if st >= 500 or st == 0)
        other = sum(1 for _, st in rows if 400 <= st < 500)
        rec = {
            "n": len(rows),
            "rps": round(len(rows) / elapsed, 1),
            "p50_ms": round(pct(lat, 50), 1),
            "p95_ms": round(pct(lat, 95), 1),
            "p99_ms": round(pct(lat, 99), 1),
            "5xx_or_failed": five,
            "4xx": other,
        }
        report["routes"][route] = rec
        print(
            f"{route:12} {rec['n']:>6} {rec['rps']:>6} {rec['p50_ms']:>7} {rec['p95_ms']:>7} "
            f"{rec['p99_ms']:>7} {five:>4} {other:>4}"
        )
    print(json.dumps({k: v for k, v in report.items() if k != "routes"}))
    name = f"load-results-{args.papers}-{args.users}u-think{args.think}{args.label}.json"
    (Path(args.work) / name).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Load test on loopback with Locust: `paperfeed serve --workers 2` on PostgreSQL (or SQLite),
N concurrent signed-in members mixing feed pages, paper pages, keyword searches and upvotes for a
bounded time, while a harvest (from a loopback OAI-PMH server replaying tests/fixtures/oai_pmh),
a keyword index run and a digest run happen at the same time, each started again every
--job-every seconds for the whole run, at nice 10 as docs/deploy.md's worker unit runs them.

Run from the repository root after `bench/scale.py --papers N --keep` left its database (or,
with --backend sqlite, after `--stages import-sqlite,index-sqlite` left its file), with the bench
extra installed (`pip install -e '.[bench]'`, which brings Locust):
    .venv/bin/python bench/load.py --papers 1000000 --users 50 --duration 120 --think 1

Users are real members (paperfeed.store.users / sessions) signed in by session cookie; each takes
its CSRF token from the home page and posts /vote forms like a browser. Locust runs them as
gevent greenlets (FastHttpUser) in this process, on the same 2 cores as the server, so the load
generator's CPU use is part of the measured latency. --think is the mean pause (exponential)
between a member's requests; 0 is a closed loop at full speed. Per route: count, requests/s,
exact p50/p95/p99 from every request's time, and 5xx/other errors; overall p95 split by whether
a background job was running when the request started. The server's log goes to
bench-data/load-server-*.log and each failed request is printed.
"""

from __future__ import annotations

# Locust's users are greenlets: patch the standard library before anything opens a socket.
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections import defaultdict  # noqa: E402
from http.cookiejar import Cookie  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from locust import FastHttpUser, events  # noqa: E402
from locust.env import Environment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from loadmix import MIX, QUERIES, setup_members  # noqa: E402
from scale import PER_MONTH, month_of  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile of xs (seconds) in milliseconds."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000


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


def session_cookie(token: str, host: str) -> Cookie:
    """The pf_session cookie a browser holds after signing in."""
    return Cookie(
        0, "pf_session", token, None, False, host, False, False, "/", True, False, None, False,
        None, None, {},
    )  # fmt: skip


SIGN_IN = "sign-in"  # each member's first page view, for its CSRF token: not part of the mix


class Member(FastHttpUser):
    """One signed-in member: its own session, its CSRF token, weighted visits and votes."""

    # Set by main() before the run: the sessions to hand out, the corpus size, the mean pause.
    tokens: list[str] = []
    papers = 1_000_000
    think = 0.0
    network_timeout = 30.0
    connection_timeout = 30.0

    def wait_time(self) -> float:
        """An exponential pause with mean `think` seconds (none in a closed loop)."""
        return self.rng.expovariate(1 / self.think) if self.think else 0.0

    def on_start(self) -> None:
        """Take a session, then read the home page like a browser to get the CSRF token."""
        token = Member.tokens.pop()
        self.rng = random.Random(token)
        self.voted: set[str] = set()
        self.client.cookiejar.set_cookie(session_cookie(token, "127.0.0.1"))
        page = self.client.get("/", name=SIGN_IN)
        m = re.search(r'name="csrf_token" value="([^"]+)"', page.text or "")
        self.csrf = m.group(1) if m else ""

    def pick_id(self) -> str:
        i = self.rng.randrange(self.papers)
        y, m = month_of(i, self.papers)
        return f"{y % 100:02d}{m:02d}.{i % PER_MONTH + 1:05d}"

    def pick_day(self) -> str:
        i = self.rng.randrange(self.papers)
        y, m = month_of(i, self.papers)
        return f"{y}-{m:02d}-{1 + (i % PER_MONTH) * 28 // PER_MONTH:02d}"

    def visit(self) -> None:
        """One request, its route drawn from the weighted mix."""
        route = self.rng.choices(list(MIX), list(MIX.values()))[0]
        if route == "vote":
            pid = (
                self.pick_id()
                if not self.voted or self.rng.random() < 0.7
                else self.rng.choice(sorted(self.voted))
            )
            action = "remove" if pid in self.voted else "up"
            (self.voted.discard if action == "remove" else self.voted.add)(pid)
            form = {"csrf_token": self.csrf, "paper_id": pid, "action": action, "next": "/"}
            # The 303 back to the page is the browser's next request, not part of the vote.
            self.client.post("/vote", data=form, name=route, allow_redirects=False)
            return
        path = "/"
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
        self.client.get(path, name=route)

    tasks = [visit]


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


def get(url: str, timeout: float = 60) -> int:
    """The status of a GET (0 when the server cannot be reached)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            return int(r.status)
    except OSError:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--pg-db", default="bench_scale")
    ap.add_argument(
        "--backend",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="sqlite: the file `scale.py --stages import-sqlite,index-sqlite` leaves",
    )
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
    if args.backend == "sqlite":
        url = f"sqlite:///{Path(args.work).resolve() / f'scale-{args.papers}.db'}"
        data = Path(args.work) / f"scale-{args.papers}-sqlite-data"
    else:
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
    out: list[tuple[str, float, int, float]] = []
    job_log: list[Any] = []
    measuring = [float("inf")]  # monotonic time the measured window starts

    def record(name: str, response_time: float, response: Any, exception: Any, **_: Any) -> None:
        status = int(getattr(response, "status_code", 0) or 0)
        if status >= 500 or status == 0:
            print(f"{name}: {status} {exception!r}", file=sys.stderr)
        began = time.monotonic() - response_time / 1000  # the jobs' log uses this clock too
        if name == SIGN_IN or began < measuring[0]:
            return
        out.append((name, response_time / 1000, status, began))

    try:
        for _ in range(120):
            if get(base + "/healthz", timeout=2) == 200:
                break
            time.sleep(0.5)
        else:
            raise SystemExit("server did not become healthy")
        for q in QUERIES[:3]:  # warm caches and index readers
            get(f"{base}/search?q={q.replace(' ', '+')}&mode=lexical")
        get(base + "/")
        Member.tokens = list(tokens)
        Member.papers = args.papers
        Member.think = args.think
        locust_env = Environment(user_classes=[Member], host=base, events=events)
        locust_env.events.request.add_listener(record)
        runner = locust_env.create_local_runner()
        # Members arrive over 5 s and each reads the home page for its CSRF token; the measured
        # window (and the background jobs) start once all of them are in.
        runner.start(args.users, spawn_rate=args.users / 5)
        while runner.user_count < args.users:
            gevent.sleep(0.1)
        gevent.sleep(1.0)
        start = measuring[0] = time.monotonic()
        deadline = start + args.duration
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
        gevent.sleep(max(0.0, deadline - time.monotonic()))
        runner.quit()
        elapsed = time.monotonic() - start
        for j in jobs:
            j.join(timeout=600)
    finally:
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
        "backend": args.backend,
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
    name = f"load-results-{args.backend}-{args.papers}-{args.users}u-think{args.think}{args.label}.json"
    (Path(args.work) / name).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

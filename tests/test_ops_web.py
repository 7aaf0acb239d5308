"""/healthz, /metrics, JSON logs, and `paperfeed serve --workers N` on loopback."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from conftest import FIXTURES
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.logs import JsonFormatter, log_config
from paperfeed.models import Paper
from paperfeed.pipeline import import_files
from paperfeed.store import Database
from paperfeed.store import harvests as harvest_store
from paperfeed.store import papers as paper_store
from paperfeed.web.app import create_app
from paperfeed.web.metrics import METHODS

DAY = FIXTURES / "hf_raw_days" / "2024-05-29.json"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus page as {(name, sorted labels): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(database_url=db.url, data_dir=str(tmp_path / "data"))


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    import_files(db, [DAY])
    with TestClient(create_app(settings, db)) as c:
        yield c


def test_healthz_reports_the_database_and_the_index(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["checks"]["database"] == "ok"
    assert body["checks"]["search"] in {"not built", "not installed"}
    assert body["pid"] == os.getpid()


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    # A closed loopback port: the connection is refused at once.
    dead = Database("postgresql://paperfeed@127.0.0.1:1/gone?connect_timeout=2")
    with TestClient(create_app(Settings(data_dir=str(tmp_path)), dead)) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "error" and r.json()["checks"]["database"] == "error"
    assert "127.0.0.1" not in r.text  # connection details stay in the log


def test_metrics_counts_requests_per_route_template_and_store_state(
    client: TestClient, db: Database
) -> None:
    with db.read() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM papers ORDER BY id LIMIT 2"))]
        n_papers = paper_store.count_papers(conn)
    with db.write() as conn:
        run = harvest_store.start_run(conn, "hf")
        harvest_store.update_run(
            conn, run, new=1, updated=0, skipped=0, errors=0, status="ok", finished=True
        )
        finished = harvest_store.recent_runs(conn, "hf")[0].finished_at
    before = samples(client.get("/metrics").text)
    for pid in ids:
        assert client.get(f"/papers/{pid}").status_code == 200
    assert client.get("/no/such/page/at/all").status_code == 404
    page = client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    after = samples(page.text)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    # The paper page's template; earlier tests in this process may have counted /api/papers/{..}.
    route = next(
        dict(k[1])["route"]
        for k in after
        if k[0] == "paperfeed_http_requests_total" and dict(k[1])["route"].startswith("/papers/{")
    )
    assert delta("paperfeed_http_requests_total", method="GET", route=route, status="200") == 2
    assert (
        delta("paperfeed_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    )
    assert delta("paperfeed_http_request_duration_seconds_count", method="GET", route=route) == 2
    assert not any(pid in str(k) for k in after for pid in ids)  # no per-URL series
    assert after[("paperfeed_papers", ())] == n_papers
    assert after[("paperfeed_store_up", ())] == 1
    stamp = after[("paperfeed_harvest_last_success_timestamp_seconds", (("source", "hf"),))]
    assert finished is not None and stamp == pytest.approx(_utc(finished))
    assert after[("paperfeed_harvest_lag_seconds", (("source", "hf"),))] >= 0
    assert after[("paperfeed_harvest_runs", (("source", "hf"), ("status", "ok")))] == 1
    assert "# TYPE paperfeed_digest_outbox gauge" in page.text


def test_metrics_stay_the_same_size_whatever_methods_and_paths_clients_send(
    client: TestClient,
) -> None:
    rnd = random.Random(20261201)

    def junk(n: int) -> None:
        for _ in range(n):
            method = "".join(rnd.choices(string.ascii_uppercase, k=rnd.randint(3, 12)))
            path = rnd.choice(["/no-such-", "/api/no-such-", "/papers/2405.00001/"]) + (
                "".join(rnd.choices(string.ascii_lowercase + string.digits, k=12))
            )
            assert client.request(method, path).status_code in (404, 405)
            assert client.request(rnd.choice(["GET", "POST"]), path).status_code in (404, 405)

    def series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        return {k for k in samples(text) if k[0].startswith("paperfeed_http_")}

    junk(20)  # every label combination the junk can reach now exists
    client.get("/metrics")
    before = client.get("/metrics").text
    junk(240)  # 500 requests in all, each with a new path and most with a new method
    after = client.get("/metrics").text
    assert series(after) == series(before)
    assert len(after) - len(before) < 1024  # only the counts' digits grew (was ~1.5 KB/request)
    methods = {dict(k[1]).get("method") for k in series(after)}
    # Other tests in this process may have sent DELETE or PATCH to real routes: the labels stay
    # the known methods, and every junk method is "other".
    assert methods <= METHODS | {"other"}, methods


def _utc(naive: datetime) -> float:
    from datetime import UTC

    return naive.replace(tzinfo=UTC).timestamp()


def test_metrics_report_the_search_index_lag(
    client: TestClient, db: Database, settings: Settings
) -> None:
    pytest.importorskip("tantivy")
    from paperfeed.search.sync import run_index

    run_index(db, settings, embed=False)
    with db.write() as conn:
        paper_store.upsert_papers(conn, [Paper(id="2501.00001", title="Not indexed yet")])
        paper_store.upsert_papers(conn, [Paper(id="2501.00002", title="Nor this one")])
    client.app.state.metrics_store = None  # type: ignore[attr-defined]  # drop the 5 s cache
    got = samples(client.get("/metrics").text)
    assert got[("paperfeed_search_index_lag", ())] == 2
    assert client.get("/healthz").json()["checks"]["search"] == "ok"


def test_json_log_lines() -> None:
    fmt = JsonFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("paperfeed.test").makeRecord(
            "paperfeed.test", logging.ERROR, __file__, 1, "failed %s", ("job",), sys.exc_info(),
            extra={"job": "harvest-hf"},
        )  # fmt: skip
    line = json.loads(fmt.format(record))
    assert line["msg"] == "failed job" and line["level"] == "error"
    assert line["job"] == "harvest-hf" and "ValueError: boom" in line["exc"]
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/healthz", "1.1", 200), None,
    )  # fmt: skip
    got = json.loads(fmt.format(access))
    assert (got["method"], got["path"], got["status"]) == ("GET", "/healthz", 200)
    with pytest.raises(ConfigError, match="PAPERFEED_LOG_FORMAT"):
        log_config("xml")
    with pytest.raises(ConfigError, match="PAPERFEED_LOG_LEVEL"):
        log_config("json", "loud")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_with_two_workers(database_url: str, tmp_path: Path) -> None:
    url = database_url  # a SQLite file, or a fresh PostgreSQL schema: both migrate on start
    port = _free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_LOG_FORMAT": "json",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = [sys.executable, "-m", "paperfeed"]
    subprocess.run([*cmd, "import", "-q", str(DAY)], env=env, check=True, timeout=120)
    db = Database(url)
    with db.read() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM papers ORDER BY id LIMIT 5"))]
    db.dispose()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [*cmd, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the workers end with it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        paths = ["/", "/healthz", "/api/daily_papers", *[f"/papers/{i}" for i in ids]]

        def hit(i: int) -> tuple[int, int | None]:
            with httpx.Client(base_url=base, timeout=30) as c:  # a new connection each time
                r = c.get(paths[i % len(paths)])
                return r.status_code, r.json()["pid"] if r.url.path == "/healthz" else None

        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(hit, range(200)))
        statuses = [s for s, _ in results]
        assert all(s == 200 for s in statuses), sorted(set(statuses))
        pids = {p for _, p in results if p is not None}
        # Both processes answered (connections spread over the shared socket's accept queue).
        assert len(pids) >= 2, pids
        metrics = samples(httpx.get(f"{base}/metrics", timeout=10).text)
        total = sum(
            v
            for (name, labels), v in metrics.items()
            if name == "paperfeed_http_requests_total" and ("route", "/metrics") not in labels
        )
        # Counters from every worker are summed (multiprocess mode), whichever one is scraped.
        assert total >= 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
    lines = (tmp_path / "serve.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records and all("level" in r and "msg" in r for r in records)
    assert not [line for line in lines if "database is locked" in line]
    assert not [r for r in records if r["level"] == "error"], records


def test_healthz_is_503_when_the_search_index_is_broken(
    client: TestClient, settings: Settings
) -> None:
    pytest.importorskip("tantivy")
    lexical = settings.derived_dir / "search" / "lexical"
    (lexical / "g1").mkdir(parents=True)
    (lexical / "g1" / "meta.json").write_text("{ not tantivy")
    (lexical / "CURRENT").write_text("g1")
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "search": "error"}


def test_worker_logs_json_lines(tmp_path: Path) -> None:
    env = {**os.environ, "PAPERFEED_LOG_FORMAT": "json"}
    url = f"sqlite:///{tmp_path / 'pf.db'}"
    out = subprocess.run(
        [sys.executable, "-m", "paperfeed", "--database-url", url, "worker", "--once", "rank"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    assert lines and {"ts", "level", "logger", "msg"} <= set(lines[0])
    assert any(r["logger"].startswith("paperfeed") for r in lines)


def test_admin_status_page_shows_harvests_index_lag_and_outbox(
    db: Database, settings: Settings, client: TestClient
) -> None:
    from _recommend_helpers import member, signed_in

    from paperfeed.search.sync import run_index
    from paperfeed.store import users as user_store

    with db.write() as conn:
        run = harvest_store.start_run(conn, "arxiv-oai")
        harvest_store.update_run(
            conn, run, new=0, updated=0, skipped=0, errors=1, status="error", finished=True,
            message="upstream answered <b>503</b>",
        )  # fmt: skip
    run_index(db, settings, embed=False)
    ada, bob = member(db, "ada@example.org"), member(db, "bob@example.org")
    with db.write() as conn:
        user_store.set_role(conn, ada.id, "admin")
    # Visitors are sent to sign in; other members are refused.
    r = client.get("/admin/status", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert client.get("/api/admin/status").status_code == 401
    assert signed_in(settings, db, bob.email).get("/admin/status").status_code == 403
    admin = signed_in(settings, db, ada.email)
    page = admin.get("/admin/status")
    assert page.status_code == 200 and "arxiv-oai" in page.text and "up to date" in page.text
    assert "&lt;b&gt;503&lt;/b&gt;" in page.text  # upstream text is escaped
    assert 'href="/admin/status"' in admin.get("/").text  # admins get the nav link
    with db.write() as conn:
        first = conn.execute(sa.text("SELECT id FROM papers ORDER BY id LIMIT 1")).scalar_one()
        paper_store.set_hidden(conn, first, True)  # one change the index has not seen
    j = admin.get("/api/admin/status").json()
    assert j["search"]["index_lag"] == 1 and j["papers"] > 0
    assert j["harvest"]["sources"]["arxiv-oai"]["last_run_status"] == "error"
    assert j["harvest"]["recent_runs"][0]["errors"] == 1

"""Request hardening: body limits while the body streams, bounded forms and integer parameters."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from _web_helpers import free_port, seed
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.models import User
from paperfeed.store import Database
from paperfeed.store import sessions as session_store
from paperfeed.store import users as user_store
from paperfeed.web.app import create_app

BIG = str(2**63)  # one past the largest SQLite INTEGER / PostgreSQL BIGINT
STREAMED = 50 * 1024 * 1024  # the chunked body a client tries to send (generated lazily)
CHUNK = b"a=" + b"x" * (64 * 1024 - 2)


# --- a real uvicorn process on loopback ---------------------------------------------------------


@dataclass
class Server:
    """A `uvicorn --factory paperfeed.web.app:app_from_env` process on a loopback port."""

    proc: subprocess.Popen[bytes]
    port: int
    session: str  # a signed-in member's session cookie

    def rss(self) -> int:
        """The server process's resident memory in bytes, read from /proc."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        assert m, status
        return int(m.group(1)) * 1024


@pytest.fixture
def server(sqlite_db: Database, tmp_path: Path) -> Iterator[Server]:
    seed(sqlite_db)
    member = _member(sqlite_db)
    with sqlite_db.write() as conn:
        session = session_store.create_session(conn, member.id, days=1)
    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": sqlite_db.url,
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_LIBRARY_IMPORT_MAX_BYTES": "1000000",
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "paperfeed.web.app:app_from_env"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.1)
        yield Server(proc, port, session)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _head(path: str, extra: str, ctype: str = "application/x-www-form-urlencoded") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n{extra}\r\n".encode()
    )


def _read_response(sock: socket.socket) -> tuple[int, str]:
    """Read until the server closes: (status, head and body as text)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    m = re.match(rb"HTTP/1\.1 (\d{3})", data)
    assert m, f"no HTTP response: {data[:200]!r}"
    return int(m.group(1)), data.decode("utf-8", "replace")


def stream_chunked(
    server: Server, path: str, total: int = STREAMED, ctype: str | None = None
) -> tuple[int, str, int]:
    """POST a chunked body of up to `total` bytes as a member, stopping once the server answers."""
    frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
    sent = 0
    extra = f"Transfer-Encoding: chunked\r\nCookie: pf_session={server.session}\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_head(path, extra, *([ctype] if ctype else [])))
        deadline = time.monotonic() + 60
        while sent < total and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                break  # the answer came before the body ended
            if writable:
                try:
                    sock.sendall(frame)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(CHUNK)
        else:
            sock.sendall(b"0\r\n\r\n")  # the whole body went through: end it, hear the answer
        status, text = _read_response(sock)
    return status, text, sent


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/subscription/no-such-token", None),
        ("/settings/digests", None),
        ("/login", None),
        ("/library/import", "multipart/form-data; boundary=b"),  # its limit: 1 MB + 64 KiB
    ],
)
def test_a_large_chunked_body_gets_413_while_it_streams_and_is_never_buffered(
    server: Server, path: str, ctype: str | None
) -> None:
    stream_chunked(server, "/subscribe", total=400_000)  # warm up: templates, imports
    before = server.rss()
    status, text, sent = stream_chunked(server, path, ctype=ctype)
    grown = server.rss() - before
    assert status == 413, text[:300]
    assert "larger than" in text and "text/html" in text
    # The server stopped the client early and held no copy of what it did read (50 MB offered).
    assert sent < 10 * 1024 * 1024, sent
    assert grown < 10 * 1024 * 1024, f"server RSS grew by {grown / 2**20:.1f} MiB"


def test_a_declared_content_length_over_the_limit_gets_413_before_any_body(
    server: Server,
) -> None:
    for path, kind in [("/subscription/x", "text/html"), ("/api/daily_papers", "json")]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(_head(path, "Content-Length: 200000000\r\n"))  # and no body at all
            status, text = _read_response(sock)
        assert status == 413 and kind in text, text[:300]
    # Within the limit the same route still works.
    r = httpx.post(f"http://127.0.0.1:{server.port}/subscription/x", data={"a": "b"})
    assert r.status_code == 404


# --- every POST route through the app's own table -----------------------------------------------


def _member(db: Database, email: str = "ada@example.org") -> User:
    with db.write() as conn:
        return user_store.create_user(conn, email, "Ada", password_hash=None, verified=True)


def signed_in_client(settings: Settings, db: Database) -> tuple[TestClient, str]:
    """A client with a member's session cookie and the CSRF token its pages carry."""
    user = _member(db)
    with db.write() as conn:
        token = session_store.create_session(conn, user.id, days=1)
    client = TestClient(create_app(settings, db), raise_server_exceptions=False)
    client.cookies.set("pf_session", token)
    m = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/settings").text)
    assert m
    return client, m.group(1)


@pytest.fixture
def site(db: Database, tmp_path: Path) -> tuple[TestClient, str, Settings]:
    seed(db)
    settings = Settings(
        database_url=db.url,
        data_dir=str(tmp_path / "data"),
        base_url="http://testserver",
        library_import_max_bytes=100_000,
    )
    client, csrf = signed_in_client(settings, db)
    return client, csrf, settings


def post_paths(client: TestClient) -> list[str]:
    """A concrete URL for every POST route of the app."""
    paths = []
    for route in client.app.routes:  # type: ignore[attr-defined]
        if "POST" in getattr(route, "methods", ()):
            paths.append(re.sub(r"\{[^}]+\}", "1", route.path))
    assert len(paths) > 20
    return paths


def test_every_post_route_answers_413_past_its_limit_declared_or_streamed(
    site: tuple[TestClient, str, Settings],
) -> None:
    client, csrf, settings = site
    refused_streaming = set()
    for path in sorted(post_paths(client), key=lambda p: p == "/logout"):  # sign out last
        limit = 100_000 + 65_536 if path == "/library/import" else settings.max_form_bytes
        body = f"csrf_token={csrf}&a=".encode() + b"x" * limit
        r = client.post(path, content=body, headers={"Content-Type": "text/plain"})
        assert r.status_code == 413, (path, r.status_code, r.text[:200])
        assert "larger than" in r.text
        small = client.post(path, content=body[:100])
        assert small.status_code < 500, (path, small.status_code)
        # Without Content-Length the bytes are counted as they arrive: 413 once the route reads
        # past the limit; a route that answers without reading the body answers as it always does.
        streamed = client.post(path, content=iter([body[:100_000], body[100_000:]]))
        assert streamed.status_code in (413, small.status_code), (path, streamed.status_code)
        assert streamed.status_code == 413 or "larger than" not in streamed.text
        if streamed.status_code == 413:
            refused_streaming.add(path)
    assert {"/login", "/subscribe", "/settings/digests", "/subscription/1"} <= refused_streaming
    assert len(refused_streaming) >= 20, refused_streaming


# --- bounded forms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/login", "/signup", "/subscribe", "/settings/digests", "/subscription/x"]
)
def test_a_form_with_more_than_50_fields_is_a_400_not_a_500(
    site: tuple[TestClient, str, Settings], path: str
) -> None:
    client, csrf, _ = site
    form = {"csrf_token": csrf, **{f"f{i}": "x" for i in range(60)}}
    r = client.post(path, data=form)
    assert r.status_code == 400, r.text[:300]
    assert "more than 50 fields" in r.text


# --- integers that overflow a 64-bit column ------------------------------------------------------


def test_ids_past_2_63_in_paths_and_forms_are_4xx_on_both_databases(
    site: tuple[TestClient, str, Settings],
) -> None:
    client, csrf, _ = site
    for path in [
        f"/comments/{BIG}/edit",
        f"/library/{BIG}",
        f"/api/library/{BIG}",
        f"/library/{BIG}/similar",
        f"/api/library/{BIG}/similar",
        f"/library/{BIG}/export.bib",
        f"/for-you?collection={BIG}",
        "/library/²",  # a Unicode digit: isdigit() but not int()
        f"/papers/{BIG}",
        f"/?p={BIG}",
    ]:
        r = client.get(path)
        assert 400 <= r.status_code < 500, (path, r.status_code)
    for path, form in [
        (f"/comments/{BIG}/edit", {"body": "hello"}),
        (f"/comments/{BIG}/delete", {}),
        (f"/library/{BIG}/delete", {}),
        ("/library/save", {"paper_id": "2405.00001", "collection": BIG}),
        ("/library/save", {"paper_id": "2405.00001", "collection": "²"}),
        ("/library/unsave", {"paper_id": "2405.00001", "collection_id": BIG}),
    ]:
        r = client.post(path, data={"csrf_token": csrf, **form}, follow_redirects=False)
        assert r.status_code < 500, (path, r.status_code, r.text[:200])

"""Test helpers for harvesting: a scriptable upstream HTTP server on loopback, DB snapshots."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.store import Database

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OAI_DIR = FIXTURES / "oai_pmh"
ATOM_DIR = FIXTURES / "arxiv_api_atom"
HF_DIR = FIXTURES / "hf_raw_days"
RAW_PAGE1 = OAI_DIR / "arXivRaw_ListRecords_from-2016-10-20_page1_resumptionToken.xml"
RAW_TOKEN = "1403493|1001"
OAI_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    "<responseDate>2026-11-27T00:00:00Z</responseDate>"
    '<request verb="ListRecords">http://127.0.0.1/oai</request>'
)


@dataclass
class Request:
    """One request the upstream saw."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]
    client_port: int = 0


@dataclass
class Reply:
    """What the upstream answers; `stall` makes it wait for an event before answering."""

    body: bytes | str = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stall: threading.Event | None = None
    content_type: str = "text/xml; charset=utf-8"


class Upstream:
    """A real HTTP server on 127.0.0.1 whose answers the test decides, recording every request."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.app: Callable[[Request], Reply] = lambda req: Reply(b"no route", 404)
        self._stalls: list[threading.Event] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                req = Request(
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    dict(self.headers),
                    self.client_address[1],
                )
                upstream.requests.append(req)
                reply = upstream.app(req)
                if reply.stall is not None:
                    upstream._stalls.append(reply.stall)
                    reply.stall.wait(60)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def script(self, replies: list[Reply]) -> None:
        """Answer with these replies in order (the last one repeats)."""
        queue = list(replies)

        def app(req: Request) -> Reply:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.app = app

    def close(self) -> None:
        for ev in self._stalls:
            ev.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="upstream")
def upstream_fixture() -> Iterator[Upstream]:
    """A scriptable upstream on loopback."""
    server = Upstream()
    yield server
    server.close()


_real_connect = socket.socket.connect


def _loopback_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"test tried to open a non-loopback socket to {address!r}")
    return _real_connect(self, address)


@pytest.fixture(name="no_outside_network")
def no_outside_network_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any Python socket connection to an address other than loopback."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_connect)


def settings_for(
    upstream: Upstream, database_url: str = "sqlite:///:memory:", **kw: Any
) -> Settings:
    """Settings pointing every source at the loopback upstream, with no politeness delays."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "arxiv_oai_url": upstream.url + "/oai",
        "arxiv_api_url": upstream.url + "/api/query",
        "hf_api_url": upstream.url,
        "http_min_interval": 0.0,
        "http_backoff": 0.0,
        "http_timeout": 10.0,
        "http_retries": 2,
        "contact_email": "ops@example.org",
        "base_url": "https://papers.example.org",
    }
    values.update(kw)
    return Settings(**values)


def settings_env(settings: Settings) -> dict[str, str]:
    """The same settings as PAPERFEED_* environment variables, for a subprocess or CliRunner."""
    names = [
        "database_url",
        "arxiv_oai_url",
        "arxiv_api_url",
        "hf_api_url",
        "http_min_interval",
        "http_backoff",
        "http_timeout",
        "http_retries",
        "contact_email",
        "base_url",
    ]
    return {f"PAPERFEED_{n.upper()}": str(getattr(settings, n)) for n in names}


def list_records(records_xml: str, token: str | None = None, size: int | None = None) -> str:
    """A made-up ListRecords page around record elements."""
    tok = ""
    if token is not None or size is not None:
        attrs = f' completeListSize="{size}"' if size is not None else ""
        tok = f"<resumptionToken{attrs}>{token or ''}</resumptionToken>"
    return f"{OAI_HEAD}<ListRecords>{records_xml}{tok}</ListRecords></OAI-PMH>"


def oai_error(code: str, text: str = "") -> str:
    """A made-up OAI-PMH error response."""
    return f'{OAI_HEAD}<error code="{code}">{text}</error></OAI-PMH>'


def raw_record(
    pid: str, versions: int = 1, title: str = "A title", datestamp: str = "2016-10-21"
) -> str:
    """A made-up arXivRaw record with n versions."""
    vs = "".join(
        f'<version version="v{i}"><date>Mon, {i} Jan 2016 10:00:00 GMT</date><size>1kb</size></version>'
        for i in range(1, versions + 1)
    )
    return (
        f"<record><header><identifier>oai:arXiv.org:{pid}</identifier>"
        f"<datestamp>{datestamp}</datestamp><setSpec>cs</setSpec></header><metadata>"
        f'<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{pid}</id>{vs}'
        f"<title>{title}</title><authors>Ada Lovelace and Alan Turing</authors>"
        f"<categories>cs.LG stat.ML</categories><abstract>Abstract of {pid}.</abstract>"
        "</arXivRaw></metadata></record>"
    )


def page2_final() -> str:
    """A made-up final page 2 for the recorded arXivRaw page: the recorded GetRecord 0804.2273."""
    text = (OAI_DIR / "arXivRaw_GetRecord_0804.2273_2016-10-21.xml").read_text()
    text = text.replace("<GetRecord>", "<ListRecords>")
    return text.replace(
        "</GetRecord>", '<resumptionToken cursor="1001" completeListSize="388"/></ListRecords>'
    )


def recorded_oai_app(stall_page2: threading.Event | None = None) -> Callable[[Request], Reply]:
    """Serve the recorded arXivRaw page 1, then the made-up final page 2 for its token."""
    page1 = RAW_PAGE1.read_bytes()
    page2 = page2_final()

    def app(req: Request) -> Reply:
        if req.path != "/oai" or req.params.get("verb") != "ListRecords":
            return Reply(oai_error("badVerb", "unexpected request"), 400)
        if "resumptionToken" in req.params:
            if req.params["resumptionToken"] != RAW_TOKEN:
                return Reply(oai_error("badResumptionToken", "unknown token"))
            return Reply(page2, stall=stall_page2)
        return Reply(page1)

    return app


def snapshot(db: Database) -> dict[str, Any]:
    """Everything a harvest writes that must match between runs (timestamps of writing excluded)."""
    with db.read() as conn:
        papers = conn.execute(sa.text("SELECT * FROM papers ORDER BY id")).mappings().all()
        out: dict[str, Any] = {
            "papers": [
                {k: v for k, v in r.items() if k not in ("created_at", "modified_at")}
                for r in papers
            ],
            "feed_entries": [
                tuple(r)
                for r in conn.execute(sa.text("SELECT * FROM feed_entries ORDER BY paper_id, day"))
            ],
            "signals": [
                tuple(r)
                for r in conn.execute(
                    sa.text("SELECT * FROM signals ORDER BY paper_id, kind, observed_at")
                )
            ],
            "state": [
                tuple(r)
                for r in conn.execute(
                    sa.text("SELECT source, cursor FROM harvest_state ORDER BY source")
                )
            ],
            "counters": [
                tuple(r) for r in conn.execute(sa.text("SELECT * FROM counters ORDER BY name"))
            ],
        }
    return out


def wipe(db: Database) -> None:
    """Empty what harvests write, back to a fresh database's state."""
    with db.write() as conn:
        empty_paper_dependents(conn)
        for table in (
            "paper_identities",
            "papers",
            "harvest_state",
            "harvest_runs",
            "job_locks",
        ):
            conn.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (fixed table names)
        conn.execute(sa.text("UPDATE counters SET value = 0 WHERE name = 'paper_rev'"))


def empty_paper_dependents(conn: sa.Connection) -> None:
    """Empty every table whose rows point at papers, so papers themselves can be deleted."""
    from paperfeed.store.schema import metadata, papers

    # Found from the schema: a new table written beside papers cannot break a wipe or a drill.
    for t in reversed(metadata.sorted_tables):
        if any(fk.column.table is papers for fk in t.foreign_keys):
            conn.execute(sa.delete(t))

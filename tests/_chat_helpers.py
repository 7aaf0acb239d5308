"""A real HTTP receiver on loopback for chat push tests: Apprise's json://, ntfy://, form:// and xml:// post to it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Delivery:
    """One request the receiver accepted (answered 2xx)."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Behaviour:
    """How the receiver answers: a status per path prefix, and a hold on requests whose body has a marker."""

    status: dict[str, int] = field(default_factory=dict)
    hold_marker: str = ""  # requests whose body contains this wait for `release` ...
    hold_accepts: bool = False  # ... and are then recorded and answered 200 (else answered 503)
    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)  # set when one is waiting


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording what it accepted; use as a context manager."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.hits: list[str] = []  # every request's path, accepted or not
        self.behaviour = Behaviour()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                receiver._handle(self, body)

            do_PUT = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        b = self.behaviour
        with self._lock:
            self.hits.append(h.path)
        code = next((c for p, c in b.status.items() if h.path.startswith(p)), 200)
        if b.hold_marker and b.hold_marker.encode() in body:
            if b.hold_accepts:
                self._record(h, body)
            b.held.set()
            b.release.wait(30)
            code = 200 if b.hold_accepts else 503
        elif code < 300:
            self._record(h, body)
        try:
            h.send_response(code)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", "2")
            h.end_headers()
            h.wfile.write(b"{}")
        except OSError:  # the sender died while we held its request
            pass

    def _record(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        with self._lock:
            self.deliveries.append(Delivery(h.path, dict(h.headers), body))

    def url(self, scheme: str, path: str) -> str:
        """An Apprise URL of the scheme pointing at this receiver."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def to(self, prefix: str) -> list[Delivery]:
        """What was accepted on paths starting with prefix."""
        with self._lock:
            return [d for d in self.deliveries if d.path.startswith(prefix)]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.behaviour.release.set()
        self.server.shutdown()
        self.server.server_close()

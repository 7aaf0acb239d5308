"""A real SMTP server on loopback (aiosmtpd) that records messages and can refuse chosen recipients."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


GATE_WAIT = 15.0  # how long a closed data_gate holds DATA before the server gives in


@dataclass
class RecordingHandler:
    """Records delivered messages; answers RCPT with a fixed reply for chosen addresses."""

    rcpt_replies: dict[str, str] = field(
        default_factory=dict
    )  # address -> "550 5.1.1 no such user"
    data_delay: float = 0.0  # seconds to wait before accepting DATA (a slow server)
    # While set and not opened, DATA waits (at most GATE_WAIT s): a server that has not answered.
    data_gate: threading.Event | None = None
    rcpt_delay: float = 0.0  # seconds to wait before answering RCPT
    reply_delay: float = 0.0  # seconds between filing a message and answering 250 (crash window)
    mail_reply: str = ""  # e.g. "421 4.7.0 try again later" to every MAIL FROM
    data_reply: str = ""  # e.g. "550 5.4.5 Daily user sending quota exceeded" after DATA
    data_replies: dict[str, str] = field(default_factory=dict)  # first recipient -> DATA reply
    messages: list[Received] = field(default_factory=list)
    mail_options: list[list[str]] = field(default_factory=list)  # MAIL FROM parameters seen
    calls: dict[str, int] = field(default_factory=dict)  # "RCPT"/"DATA" -> times started
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: Any
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        self.mail_options.append(list(mail_options))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        self.calls["RCPT"] = self.calls.get("RCPT", 0) + 1
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.calls["DATA"] = self.calls.get("DATA", 0) + 1
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_gate is not None:
            end = time.monotonic() + GATE_WAIT
            while not self.data_gate.is_set() and time.monotonic() < end:
                await asyncio.sleep(0.02)
        first = envelope.rcpt_tos[0].lower() if envelope.rcpt_tos else ""
        reply = self.data_replies.get(first) or self.data_reply
        if reply:
            return reply
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 Message accepted"

    def to(self, address: str) -> list[Received]:
        """Messages delivered to one address."""
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 running in a thread, used as a context manager."""

    def __init__(
        self,
        handler: RecordingHandler | None = None,
        *,
        smtputf8: bool = False,
        idle_timeout: float = 300.0,
    ) -> None:
        self.handler = handler or RecordingHandler()
        self.port = free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            ready_timeout=10,
            enable_SMTPUTF8=smtputf8,  # off, like many relays: RFC 6531 addresses are refused
            timeout=idle_timeout,  # seconds before the server hangs up an idle connection
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Wait until at least `count` messages arrived (a liveness wait, not a timing assertion)."""
        deadline = time.monotonic() + timeout
        while len(self.handler.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def wait_to(self, address: str, count: int = 1, timeout: float = 30.0) -> list[Received]:
        """Messages to an address once at least `count` arrived (queued mail is sent in the background)."""
        deadline = time.monotonic() + timeout
        while len(self.handler.to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.handler.to(address)


def smtp_settings(db: Any, port: int, **kw: object) -> Any:
    """Settings that mail through the loopback server on `port` (base_url http://testserver)."""
    from paperfeed.config import Settings

    return Settings(
        database_url=db.url,
        base_url="http://testserver",
        mail_backend="smtp",
        mail_from="paperfeed <noreply@papers.example.org>",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_timeout=10,
        secret_key="test-secret",
    ).with_(**kw)


def smtp_env(url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment of a paperfeed subprocess mailing through the loopback server."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_MAIL_BACKEND="smtp",
        PAPERFEED_SMTP_HOST="127.0.0.1",
        PAPERFEED_SMTP_PORT=str(port),
        **extra,
    )
    return env


def wait_for_queue(db: Any, timeout: float = 10.0) -> None:
    """Wait until the background sender has handled every queued account email (bounded)."""
    from paperfeed.store import mailqueue

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.read() as conn:
            if mailqueue.pending_count(conn) == 0:
                return
        time.sleep(0.01)


# --- seeding a store for digest tests ---

from datetime import date, datetime  # noqa: E402

from paperfeed.models import FeedEntry, Paper  # noqa: E402
from paperfeed.store import Database  # noqa: E402
from paperfeed.store import feed as store_feed  # noqa: E402
from paperfeed.store import papers as store_papers  # noqa: E402
from paperfeed.store import subscriptions as store_subs  # noqa: E402


def add_papers(
    db: Database, day: date, n: int, *, prefix: str = "2411", start: int = 0
) -> list[str]:
    """Feature `n` papers on `day` with descending upvotes; return their ids best first."""
    papers = [
        Paper(
            id=f"{prefix}.{start + i:05d}",
            title=f"Paper {start + i} on $\\alpha$-scaling",
            abstract=f"We study $x^2$ for case {start + i}. " + "Long abstract text. " * 30,
            authors=[f"Author {j} of {start + i}" for j in range(3)],
            categories=["cs.LG"],
            upvotes=1000 - i,
            published=datetime.combine(day, datetime.min.time()),
        )
        for i in range(n)
    ]
    with db.write() as conn:
        store_papers.upsert_papers(conn, papers)
        store_feed.add_entries(conn, [FeedEntry(p.id, day) for p in papers])
    return [p.id for p in papers]


def add_subscriber(
    db: Database,
    email: str,
    *,
    frequency: str = "daily",
    sections: tuple[str, ...] = ("featured",),
    hour: int = 7,
    timezone: str = "UTC",
    confirmed_at: datetime | None = None,
) -> store_subs.Subscription:
    """An active subscription (as after double opt-in)."""
    import secrets

    with db.write() as conn:
        sub, _ = store_subs.request(
            conn,
            email,
            confirm_token_hash=secrets.token_hex(16),
            unsubscribe_token=secrets.token_urlsafe(16),
            frequency=frequency,
            sections=list(sections),
            timezone=timezone,
            hour=hour,
            now=confirmed_at or datetime(2020, 1, 1),
        )
        conn.execute(
            store_subs.subscriptions.update()
            .where(store_subs.subscriptions.c.id == sub.id)
            .values(status="active", confirmed_at=confirmed_at or datetime(2020, 1, 1))
        )
        got = store_subs.get(conn, sub.id)
    assert got is not None
    return got

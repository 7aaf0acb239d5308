"""Account mail off the request path: queue a rendered message, and send the queue from a background sender.

Pages call `post` (or `enqueue` inside their own transaction, then `wake`), which costs one
insert whatever the address, so no answer's timing says whether an account exists. A `Courier`
thread in each `paperfeed serve` process and the worker's `send_mail` job drain the queue with
`deliver_due`, judging failures like the digest outbox does (`mail.verdict`).

Guarantees, as for digests: a message is claimed by one sender at a time (a claim token and a
lease of `mail_queue_lease` seconds) and marked sent right after the server accepted it. A sender
killed between the server's "250 OK" and that mark leaves the row in 'sending'; once the lease
ends another sender sends it again with the same Message-ID. So only a message in flight at a
crash can arrive twice, and nothing queued is lost.
"""

from __future__ import annotations

import email
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.engine import Connection

from paperfeed.config import Settings
from paperfeed.digest.mail import Mailer, check_headers, decide, make_mailer, recipients_of
from paperfeed.digest.render import MAIL_POLICY
from paperfeed.errors import ConfigError, MailError, MailMessageError
from paperfeed.store import Database
from paperfeed.store import mailqueue as store_queue
from paperfeed.store.mailqueue import QueuedMail

log = logging.getLogger(__name__)

KEEP_FINISHED = timedelta(days=7)  # sent/failed rows (already without their text) kept for status
_STORED = MAIL_POLICY.clone(utf8=True)  # stored as text: non-ASCII addresses survive unencoded
_IDLE_BACKOFF_CAP = 300.0  # seconds: a courier whose server refuses waits at most this long


@dataclass(slots=True)
class PostReport:
    """What one drain of the queue did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    bounced: int = 0
    stopped: bool = False  # the server refused or was unreachable: the rest waits for later
    error: str = ""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def enqueue(conn: Connection, msg: EmailMessage) -> int:
    """Queue a rendered single-recipient message inside the caller's transaction; return its id."""
    check_headers(msg)
    rcpts = recipients_of(msg)
    if len(rcpts) != 1:
        raise MailMessageError(f"account mail goes to exactly one address, not {len(rcpts)}")
    return store_queue.enqueue(
        conn,
        rcpts[0],
        str(msg.get("Subject", "")),
        str(msg.get("Message-ID", "")),
        msg.as_string(policy=_STORED),
    )


def post(settings: Settings, db: Database, msg: EmailMessage) -> int:
    """Queue a message and wake this process's sender; return the queue id."""
    with db.write() as conn:
        mail_id = enqueue(conn, msg)
    wake(settings, db)
    return mail_id


def deliver_due(
    db: Database,
    settings: Settings,
    mailer: Mailer | None = None,
    *,
    limit: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> PostReport:
    """Send due queued messages until none is left, `limit` is reached or the server refuses."""
    report = PostReport()
    with db.read() as conn:  # idle polls take no write lock
        if not store_queue.has_due(conn):
            return report
    lease = timedelta(seconds=settings.mail_queue_lease)
    mailer = mailer or make_mailer(settings)
    with mailer:
        while not should_stop() and (limit is None or _handled(report) < limit):
            with db.write() as conn:
                mail = store_queue.claim(conn, lease=lease)
            if mail is None:
                break
            try:
                msg = email.message_from_string(mail.message, policy=MAIL_POLICY)
                assert isinstance(msg, EmailMessage)
                mailer.send(msg)
            except Exception as exc:
                if not _record_failure(db, settings, mail, exc, report):
                    break
            else:
                with db.write() as conn:
                    store_queue.mark_sent(conn, mail)
                report.sent += 1
    if report.sent:
        with db.write() as conn:
            store_queue.purge_finished(conn, _now() - KEEP_FINISHED)
    return report


def _handled(report: PostReport) -> int:
    return report.sent + report.retried + report.failed + report.bounced


def _record_failure(
    db: Database, settings: Settings, mail: QueuedMail, exc: Exception, report: PostReport
) -> bool:
    """Record one failed send by its verdict (RFC 5321 phase and status); False to stop the run."""
    if not isinstance(exc, MailError | ConfigError):
        log.exception("account mail %s to %s: unexpected error", mail.id, mail.to_addr)
    d = decide(
        exc,
        attempts=mail.attempts,
        max_attempts=settings.mail_queue_max_attempts,
        retry_base=settings.mail_queue_retry_base,
    )
    with db.write() as conn:
        if d.action == "retry":
            store_queue.mark_retry(conn, mail, d.error, next_attempt_at=_now() + d.retry_in)
            report.retried += 1
        elif d.action == "release":
            store_queue.release(conn, mail, d.error)
        else:
            store_queue.mark_final(conn, mail, d.action, d.error)
            if d.action == "bounced":
                report.bounced += 1
            else:
                report.failed += 1
    if d.stop:
        report.stopped, report.error = True, d.error
        log.warning("account mail stopped at %s to %s: %s", mail.id, mail.to_addr, d.error)
        return False
    log.info("account mail %s to %s: %s (%s)", mail.id, mail.to_addr, d.action, d.error)
    return True


# --- the background sender ---------------------------------------------------------------------

_lock = threading.Lock()
_couriers: list[Courier] = []


class Courier:
    """A background thread that drains the queue when woken and otherwise every mail_queue_poll seconds.

    A lingering courier (started by `paperfeed serve`'s lifespan) runs until stopped; one started
    by `wake` in a process without it drains once and ends, leaving retries to serve or the worker.
    """

    def __init__(self, settings: Settings, db: Database, *, linger: bool) -> None:
        self.settings = settings
        self.db = db
        self.linger = linger
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paperfeed-mail", daemon=True)

    def alive(self) -> bool:
        """True while the thread runs (a forked child inherits the object, not the thread)."""
        return self._thread.is_alive()

    def wake(self) -> None:
        """Send what is due now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread after the message in hand (a claim it cannot finish waits out its lease)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        with _lock:
            if self in _couriers:
                _couriers.remove(self)

    def _run(self) -> None:
        refusals = 0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                report = deliver_due(self.db, self.settings, should_stop=self._stop.is_set)
                refusals = refusals + 1 if report.stopped else 0
            except Exception:
                log.exception("account mail: the queue could not be read or updated")
                refusals += 1
            if not self.linger:
                with _lock:  # `wake` sets the event under this lock: no wake-up is lost
                    if not self._wake.is_set() or self._stop.is_set():
                        if self in _couriers:
                            _couriers.remove(self)
                        return
                continue
            # A refusing or unreachable server is asked again less and less often (5 s … 5 min).
            self._wake.wait(min(self.settings.mail_queue_poll * 2**refusals, _IDLE_BACKOFF_CAP))


def _courier_for(db: Database) -> Courier | None:
    live = [c for c in _couriers if c.alive()]
    _couriers[:] = live
    return next((c for c in live if c.db is db), None)


def start(settings: Settings, db: Database) -> Courier:
    """Run a lingering courier for this database in this process (the `serve` embedded default)."""
    with _lock:
        courier = _courier_for(db)
        if courier is not None:
            courier.linger = True
            return courier
        courier = Courier(settings, db, linger=True)
        _couriers.append(courier)
        courier._thread.start()
        return courier


def wake(settings: Settings, db: Database) -> None:
    """Wake this process's courier for the database, starting a one-drain courier if none runs."""
    with _lock:
        courier = _courier_for(db)
        if courier is None:
            courier = Courier(settings, db, linger=False)
            _couriers.append(courier)
            courier._thread.start()
        courier.wake()

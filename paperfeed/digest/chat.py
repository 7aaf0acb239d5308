"""Chat push: send queued alerts through Apprise from a sender of their own, beside the mail courier.

Pipeline and service code queue alerts with `enqueue_alert` (re-exported here from
`paperfeed.store.chat`, so callers below the digest layer can use the store one) inside the
transaction that records what matched. A `ChatCourier` thread in each `paperfeed serve` process
and the worker's `send_chat` job drain the outbox with `deliver_due`; neither shares a thread,
connection or lock with email, so a slow or dead chat endpoint holds up no mail.

Guarantees: each alert is one row per channel under a unique key, so queueing it twice adds
nothing. A sender claims a row (a claim token and a lease of `chat_lease` seconds, committed
before anything is sent), sends it, and marks it sent in its own short transaction right after
the endpoint answered 2xx. A sender killed before the endpoint accepted the alert leaves the row
in 'sending'; once the lease ends another sender sends it, so nothing is lost. The one alert
whose endpoint had accepted it when the kill came, before the mark was written, is sent again
after the lease: that single alert can arrive twice, no other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import apprise

from paperfeed.config import Settings
from paperfeed.digest import chat_target
from paperfeed.errors import InvalidInput
from paperfeed.store import Database
from paperfeed.store import chat as chat_store
from paperfeed.store.chat import ClaimedAlert, enqueue_alert

__all__ = ["ChatCourier", "ChatReport", "deliver_due", "enqueue_alert", "send", "start", "wake"]

log = logging.getLogger(__name__)

KEEP_FINISHED = timedelta(days=30)  # sent and failed rows keep deduplicating their keys this long
RETRY_CAP = timedelta(hours=6)


@dataclass(slots=True)
class ChatReport:
    """What one drain of the chat outbox did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def send(settings: Settings, url: str, title: str, body: str) -> tuple[str | None, bool]:
    """Send one message to an Apprise URL; (None, _) when delivered, else (the error, whether to retry)."""
    try:
        target = chat_target.parse(url)
    except InvalidInput as exc:  # the URL or the rules changed since it was added
        return str(exc), False
    if not settings.chat_allow_private_targets and target.own_host:
        try:
            why = chat_target.refusal(target)
        except OSError as exc:  # DNS trouble may pass: try again later
            return f"{target.host} does not resolve: {exc}", True
        if why:
            return why, False
    notifier = apprise.Apprise(asset=chat_target.ASSET)
    if not notifier.add(url):
        return "Apprise does not accept this URL any more", False
    try:
        with chat_target.public_only(not settings.chat_allow_private_targets) as refused:
            result = notifier.notify(body=body, title=title)
    except Exception as exc:  # a plugin bug must not kill the sender
        log.exception("chat alert to %s: unexpected error", chat_target.mask(url))
        return f"unexpected error: {exc}", True
    if refused:  # the name resolved to a private address at connect time (or a redirect did)
        return refused[0] + chat_target.ADMIN_HINT, False
    if result:
        return None, False
    errors = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
    return (
        errors[-1] if errors else f"the endpoint did not accept the alert ({result.status})"
    ), True


def _message(alert: ClaimedAlert) -> str:
    return f"{alert.body}\n{alert.link}".strip() if alert.link else alert.body


def deliver_due(
    db: Database,
    settings: Settings,
    *,
    limit: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> ChatReport:
    """Send due chat alerts until none is left or `limit` alerts were handled."""
    report = ChatReport()
    with db.read() as conn:  # idle polls take no write lock
        if not chat_store.has_due(conn):
            return report
    lease = timedelta(seconds=settings.chat_lease)
    while not should_stop() and (
        limit is None or report.sent + report.retried + report.failed < limit
    ):
        with db.write() as conn:
            alert = chat_store.claim(conn, lease=lease)
        if alert is None:
            break
        error, retry = send(settings, alert.url, alert.title, _message(alert))
        with db.write() as conn:
            if error is None:
                chat_store.mark_sent(conn, alert)
                report.sent += 1
            elif retry and alert.attempts < settings.chat_max_attempts:
                wait = min(
                    timedelta(seconds=settings.chat_retry_base * 2 ** (alert.attempts - 1)),
                    RETRY_CAP,
                )
                chat_store.mark_retry(conn, alert, error, next_attempt_at=_now() + wait)
                report.retried += 1
            else:
                chat_store.mark_failed(conn, alert, error)
                report.failed += 1
        if error is not None:
            log.info("chat alert %s to %s: %s", alert.id, chat_target.mask(alert.url), error)
    if report.sent or report.failed:
        with db.write() as conn:
            chat_store.purge_finished(conn, _now() - KEEP_FINISHED)
    return report


# --- the background sender ---------------------------------------------------------------------

_lock = threading.Lock()
_couriers: list[ChatCourier] = []


class ChatCourier:
    """A background thread that drains the chat outbox when woken and otherwise every chat_poll seconds."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paperfeed-chat", daemon=True)

    def wake(self) -> None:
        """Send what is due now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread after the alert in hand (a claim it cannot finish waits out its lease)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        with _lock:
            if self in _couriers:
                _couriers.remove(self)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                deliver_due(self.db, self.settings, should_stop=self._stop.is_set)
            except Exception:
                log.exception("chat push: the outbox could not be read or updated")
            self._wake.wait(self.settings.chat_poll)


def start(settings: Settings, db: Database) -> ChatCourier:
    """Run a chat sender for this database in this process (the `serve` embedded default)."""
    with _lock:
        for courier in _couriers:
            if courier.db is db and courier._thread.is_alive():
                return courier
        courier = ChatCourier(settings, db)
        _couriers.append(courier)
        courier._thread.start()
        return courier


def wake(db: Database) -> bool:
    """Wake this process's chat sender for the database; False when none runs (the worker job sends)."""
    with _lock:
        for courier in _couriers:
            if courier.db is db and courier._thread.is_alive():
                courier.wake()
                return True
    return False

"""Send composed digests from the outbox: claim one row under a lock, send it, record the outcome.

Guarantees: every row is claimed by one worker at a time and marked sent right after the server
accepted it. A worker killed between the server's "250 OK" and that mark leaves exactly one row
in 'sending'; after `digest_sending_lease` seconds a later run sends it again with the same
Message-ID. So at most the one message in flight at a crash can arrive twice, never more.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Connection

from paperfeed.config import Settings
from paperfeed.digest.compose import ComposeReport, compose_due
from paperfeed.digest.mail import Mailer, decide, make_mailer, retry_delay
from paperfeed.digest.render import digest_message, paper_ids
from paperfeed.errors import ConfigError, MailError
from paperfeed.models import Paper
from paperfeed.store import Database
from paperfeed.store import mailqueue as store_queue
from paperfeed.store import outbox as store_outbox
from paperfeed.store import papers as store_papers
from paperfeed.store import subscriptions as store_subs
from paperfeed.store.outbox import OutboxRow

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SendReport:
    """What one sending run did."""

    sent: int = 0
    retried: int = 0  # 4xx or a server refusal: back in the queue with a later next_attempt_at
    failed: int = 0  # 4xx too many times
    bounced: int = 0  # 5xx for the recipient's address (RCPT 5.1.x/5.2.x, SMTPUTF8 missing)
    cancelled: int = 0  # unsubscribed or bounced after composing
    requeued: int = 0  # left in 'sending' by a worker that died (sent again, same Message-ID)
    paused: bool = False  # the server refused or was unreachable: the rest waits for the next run
    error: str = ""
    seconds: dict[str, float] = field(default_factory=lambda: {"render": 0.0, "send": 0.0})


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Delay before the next attempt after `attempts` failures: doubling, capped at 6 h."""
    return retry_delay(settings.digest_retry_base, attempts)


class _PaperCache:
    """Papers by id across one run: most digests share most papers."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.papers: dict[str, Paper] = {}
        self.missing: set[str] = set()

    def get(self, ids: list[str]) -> dict[str, Paper]:
        need = [i for i in ids if i not in self.papers and i not in self.missing]
        if need:
            with self.db.read() as conn:
                found = store_papers.get_papers(conn, need)
            self.papers.update(found)
            self.missing.update(i for i in need if i not in found)
        return {i: self.papers[i] for i in ids if i in self.papers}


class _RateLimiter:
    """Spaces sends so no more than `per_minute` go out in any minute."""

    def __init__(self, per_minute: int, sleep: Callable[[float], None]) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.sleep = sleep
        self.next_at = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


def send_pending(
    db: Database,
    settings: Settings,
    mailer: Mailer | None = None,
    *,
    limit: int | None = None,
    period: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SendReport:
    """Send due outbox rows until none is left, `limit` is reached or the server is unreachable."""
    mailer = mailer or make_mailer(settings)
    report = SendReport()
    lease = timedelta(seconds=settings.digest_sending_lease)
    with db.write() as conn:
        report.cancelled = store_outbox.cancel_inactive(conn)
        # Rows a dead worker left in 'sending' go back in line once their lease has passed.
        report.requeued = store_outbox.requeue_stale(conn, _now() - lease)
    cache = _PaperCache(db)
    limiter = _RateLimiter(settings.digest_rate_per_minute, sleep)
    sent_unmarked: OutboxRow | None = None  # accepted by the server, recorded in the next txn

    def record_sent(conn: Connection) -> None:
        nonlocal sent_unmarked
        if sent_unmarked is not None:
            store_outbox.mark_sent(conn, sent_unmarked.id)
            if sent_unmarked.bounce_count:
                store_subs.reset_bounces(conn, sent_unmarked.subscription_id)
            sent_unmarked = None

    try:
        with mailer:
            while limit is None or report.sent + report.retried + report.bounced < limit:
                now = _now()
                # One transaction records the previous send and claims the next row: half the
                # commits, and still only one row is ever 'sending' on this worker.
                with db.write() as conn:
                    record_sent(conn)
                    row = store_outbox.claim_next(conn, now=now, period=period)
                if row is None:
                    break
                t0 = time.perf_counter()
                try:
                    msg = digest_message(settings, row, cache.get(paper_ids(row)))
                except Exception as exc:
                    # A digest that cannot be rendered never will be: fail it, go on.
                    log.exception("digest %s cannot be rendered", row.id)
                    with db.write() as conn:
                        store_outbox.mark_final(conn, row.id, "failed", f"render: {exc}")
                    report.failed += 1
                    continue
                t1 = time.perf_counter()
                report.seconds["render"] += t1 - t0
                limiter.wait()
                try:
                    mailer.send(msg)
                except Exception as exc:
                    if not _record_failure(db, settings, row, exc, report):
                        break
                else:
                    sent_unmarked = row
                    report.sent += 1
                finally:
                    report.seconds["send"] += time.perf_counter() - t1
    finally:
        if sent_unmarked is not None:
            with db.write() as conn:
                record_sent(conn)
    return report


def _record_failure(
    db: Database, settings: Settings, row: OutboxRow, exc: Exception, report: SendReport
) -> bool:
    """Record one failed send by its verdict (RFC 5321 phase and status); False to stop the run."""
    if not isinstance(exc, MailError | ConfigError):
        log.exception("digest %s to %s: unexpected error", row.id, row.to_addr)
    d = decide(
        exc,
        attempts=row.attempts,
        max_attempts=settings.digest_max_attempts,
        retry_base=settings.digest_retry_base,
    )
    with db.write() as conn:
        if d.action == "retry":
            store_outbox.mark_retry(conn, row.id, d.error, next_attempt_at=_now() + d.retry_in)
            report.retried += 1
        elif d.action == "release":
            store_outbox.release(conn, row.id, d.error)
        else:
            store_outbox.mark_final(conn, row.id, d.action, d.error)
            if d.action == "bounced":
                store_subs.record_bounce(
                    conn, row.subscription_id, limit=settings.digest_bounce_limit
                )
                report.bounced += 1
            else:
                report.failed += 1
    if d.stop:
        report.paused, report.error = True, d.error
        log.warning("digest sending stopped at %s to %s: %s", row.id, row.to_addr, d.error)
        return False
    log.info("digest %s to %s: %s (%s)", row.id, row.to_addr, d.action, d.error)
    return True


@dataclass(slots=True)
class RunReport:
    """A compose-then-send run."""

    compose: ComposeReport
    send: SendReport | None


def run(
    db: Database,
    settings: Settings,
    mailer: Mailer | None = None,
    *,
    now: datetime | None = None,
    as_of: date | None = None,
    dry_run: bool = False,
) -> RunReport:
    """Compose every due digest into the outbox, then send what is pending (the scheduled job)."""
    composed = compose_due(db, settings, now=now, as_of=as_of, dry_run=dry_run)
    if dry_run:
        return RunReport(composed, None)
    return RunReport(composed, send_pending(db, settings, mailer))


def status(db: Database) -> dict[str, dict[str, int]]:
    """Outbox, subscription and account-mail queue counts by status, for operators."""
    with db.read() as conn:
        return {
            "outbox": store_outbox.status_counts(conn),
            "subscriptions": store_subs.status_counts(conn),
            "mail_queue": store_queue.status_counts(conn),
        }

"""Run a harvest: fetch pages from a source, store each page in one transaction, keep the cursor."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from paperfeed.config import Settings, check_harvest_enabled
from paperfeed.errors import PaperfeedError
from paperfeed.models import UpsertCounts
from paperfeed.pipeline import store_records
from paperfeed.sources.base import Page, ResumeExpired, Source, Window
from paperfeed.sources.http import HttpClient
from paperfeed.sources.registry import make_source
from paperfeed.store import Database
from paperfeed.store import harvests as harvest_store
from paperfeed.store.locks import job_lock

log = logging.getLogger(__name__)

EXIT_NEW = 0  # something arrived: at least one paper was new or changed
EXIT_ERROR = 2  # the run failed (PaperfeedError); the cursor did not move
EXIT_NOTHING_NEW = 3  # the run completed and nothing changed
MAX_MESSAGES = 20  # per-record problems kept in a run's message


class HarvestBusy(PaperfeedError):
    """Another process is harvesting the same source right now."""


@dataclass
class State:
    """A source's stored state: the cursor of its last complete run and any unfinished run."""

    cursor: str | None = None
    pending: dict[str, Any] | None = None  # {"window": {...}, "resume": "..."}

    @classmethod
    def load(cls, text: str | None) -> State:
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls(cursor=text)  # a bare cursor written by hand
        if not isinstance(data, dict):
            return cls()
        return cls(data.get("cursor"), data.get("pending"))

    def dump(self) -> str:
        return json.dumps({"cursor": self.cursor, "pending": self.pending}, sort_keys=True)


@dataclass
class HarvestResult:
    """What one run did."""

    source: str
    run_id: int
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    pages: int = 0
    status: str = "running"
    resumed: bool = False
    restarted: bool = False
    window: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when at least one paper was new or changed."""
        return bool(self.counts.new or self.counts.updated)

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this run."""
        return EXIT_NEW if self.changed else EXIT_NOTHING_NEW

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        c = self.counts
        notes = [f"{self.pages} page(s)"]
        if self.resumed:
            notes.append("resumed an interrupted run")
        if self.restarted:
            notes.append("resumption token expired: window restarted")
        return (
            f"{self.source}: {c.new} new, {c.updated} updated, {c.unchanged + c.skipped} skipped, "
            f"{c.errors} errors ({', '.join(notes)})"
        )


ProgressFn = Callable[[Page, HarvestResult], None]


def _same_window(a: Window, b: Window) -> bool:
    # "planned" is the day the run was planned: a resumed run keeps its original one.
    def strip(w: Window) -> dict[str, str]:
        return {k: v for k, v in w.items() if k != "planned"}

    return strip(a) == strip(b)


def _today() -> date:
    return datetime.now(UTC).date()


def run_harvest(
    db: Database,
    source: Source,
    *,
    today: date | None = None,
    on_page: ProgressFn | None = None,
    lock_lease: float = 900.0,
) -> HarvestResult:
    """Harvest one source's next window; resumes an interrupted run of the same window."""
    key = source.key()
    with job_lock(db, f"harvest:{key}", lease=lock_lease) as lock:
        if lock is None:
            raise HarvestBusy(
                f"another harvest of {key} is running; wait for it to finish "
                "(`paperfeed harvest status` shows runs)"
            )
        with db.write() as conn:
            # We hold the source's lock, so any run still marked running died without finishing.
            harvest_store.interrupt_stale(conn, key)
            state = State.load(harvest_store.get_state(conn, key))
            run_id = harvest_store.start_run(conn, key)
        result = HarvestResult(key, run_id)
        try:
            _run(db, source, state, result, today or _today(), on_page, lock.renew)
        except BaseException as exc:
            message = str(exc) or exc.__class__.__name__
            try:
                with db.write() as conn:
                    _record(conn, result, status="error", message=message, finished=True)
            except Exception:  # the original error matters more than failing to record it
                log.exception("could not record the failed harvest run %s", run_id)
            result.status = "error"
            if isinstance(exc, PaperfeedError) and result.pages:
                c = result.counts
                raise type(exc)(
                    f"{message} [{result.pages} page(s) were stored before the failure "
                    f"({c.new} new, {c.updated} updated); run the same command again to resume]"
                ) from exc
            raise
        return result


def _run(
    db: Database,
    source: Source,
    state: State,
    result: HarvestResult,
    today: date,
    on_page: ProgressFn | None,
    renew: Callable[[], None],
) -> None:
    window: Window = source.plan(state.cursor, today)
    resume: str | None = None
    pending = state.pending
    if (
        pending
        and isinstance(pending.get("window"), dict)
        and _same_window(pending["window"], window)
    ):
        window, resume = pending["window"], pending.get("resume")
        result.resumed = resume is not None
    result.window = dict(window)
    for attempt in range(2):
        fetched = 0
        try:
            for page in source.pages(window, resume):
                fetched += 1
                result.pages += 1
                _store_page(db, source, state, result, window, page)
                renew()
                if on_page is not None:
                    on_page(page, result)
                if page.resume is None:
                    return
            return
        except ResumeExpired as exc:
            # Tokens expire (arXiv keeps them for hours): the window restarts from its start,
            # and pages already stored come back unchanged, so the end state is the same.
            if attempt or (resume is None and fetched == 0):
                raise  # the window's first request cannot have a stale token: a real error
            log.warning("%s; restarting the window from its start", exc)
            result.restarted = True
            resume = None


def _store_page(
    db: Database, source: Source, state: State, result: HarvestResult, window: Window, page: Page
) -> None:
    """One page in one transaction: records, deletions, problems, resume marker, run totals."""
    with db.write() as conn:
        counts = store_records(conn, page.records)
        harvest_store.hide_deleted(conn, page.deleted)
        counts.skipped += len(page.deleted)
        counts.errors += len(page.errors)
        result.counts.add(counts)
        result.problems.extend(page.errors[: max(0, MAX_MESSAGES - len(result.problems))])
        if page.resume is not None:
            state.pending = {"window": dict(window), "resume": page.resume}
            harvest_store.set_state(conn, result.source, state.dump())
            _record(conn, result)
        else:
            # The run is complete: the cursor moves in the same transaction as the last page.
            state.pending = None
            state.cursor = source.cursor_after(window) or state.cursor
            harvest_store.set_state(conn, result.source, state.dump())
            status = "ok" if result.changed else "nothing-new"
            message = None
            if result.problems:
                message = f"{result.counts.errors} record(s) skipped: " + "; ".join(result.problems)
            _record(conn, result, status=status, message=message, finished=True)


def _record(
    conn: Any,
    result: HarvestResult,
    *,
    status: str | None = None,
    message: str | None = None,
    finished: bool = False,
) -> None:
    c = result.counts
    if status is not None:
        result.status = status
    harvest_store.update_run(
        conn,
        result.run_id,
        new=c.new,
        updated=c.updated,
        skipped=c.unchanged + c.skipped,
        errors=c.errors,
        status=status,
        message=message,
        finished=finished,
    )


def harvest(
    settings: Settings,
    db: Database,
    name: str,
    *,
    on_page: ProgressFn | None = None,
    client: HttpClient | None = None,
    **options: Any,
) -> HarvestResult:
    """Build the named source from settings and options, and run one harvest of it."""
    # bio: a biology-only instance never harvests arXiv, even when asked by hand.
    server = options.get("server") or ("biorxiv" if name == "biorxiv" else None)
    check_harvest_enabled(settings, name, server)
    own = client is None
    http = client or HttpClient(settings)
    try:
        source = make_source(name, settings, http, **options)
        result = run_harvest(db, source, on_page=on_page, lock_lease=settings.job_lock_lease)
    finally:
        if own:
            http.close()
    if result.changed:
        _match_follows(settings, db)
    return result


def _match_follows(settings: Settings, db: Database) -> None:
    """Match the papers this run stored against the follows; a failure never fails the harvest."""
    from paperfeed.matching import match_new

    try:
        log.info("%s", match_new(db, settings).line())
    except PaperfeedError as exc:  # the next run picks the same papers up from the watermark
        log.warning("follow matching failed: %s", exc)


def status(db: Database) -> list[dict[str, Any]]:
    """The operators' view: each source's cursor, unfinished run and last run."""
    with db.read() as conn:
        states = harvest_store.all_states(conn)
        runs = {r.source: r for r in harvest_store.last_runs(conn)}
    out = []
    for key in sorted(set(states) | set(runs)):
        text, changed_at = states.get(key, (None, None))
        st = State.load(text)
        run = runs.get(key)
        out.append(
            {
                "source": key,
                "cursor": st.cursor,
                "pending": st.pending,
                "state_updated_at": changed_at,
                "last_run": run,
            }
        )
    return out

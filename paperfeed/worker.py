"""The registry of jobs (harvests, indexing, ranking, digests...) and their local APScheduler loop."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from paperfeed.config import Settings, enabled_sources
from paperfeed.errors import ConfigError, PaperfeedError
from paperfeed.harvest import harvest
from paperfeed.store import Database, open_database
from paperfeed.store.locks import job_lock

log = logging.getLogger(__name__)

MISFIRE_GRACE = 3600  # seconds: a job missed while the machine slept still runs within an hour
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


Part = dict[str, Any]  # one share of a job's work, as JSON the job queue stores


@dataclass(frozen=True)
class Job:
    """A named job, the setting holding its schedule, and what it does.

    A job with `plan` can be shared out: the PostgreSQL queue (jobqueue.py) runs `run`, then
    queues each part `plan` returns as its own task for `run_part`, so several workers split it.
    """

    name: str
    run: Callable[[Settings, Database], Any]
    schedule_setting: str
    help: str
    plan: Callable[[Settings, Database], list[Part]] | None = None
    run_part: Callable[[Settings, Database, Part], Any] | None = None


JOBS: dict[str, Job] = {}


def register_job(
    name: str,
    run: Callable[[Settings, Database], Any],
    *,
    schedule_setting: str,
    help: str,
    plan: Callable[[Settings, Database], list[Part]] | None = None,
    run_part: Callable[[Settings, Database, Part], Any] | None = None,
) -> Job:
    """Add a job to the registry; its schedule is read from the named setting (empty = off)."""
    job = Job(name, run, schedule_setting, help, plan, run_part)
    JOBS[name] = job
    return job


def queued(settings: Settings) -> bool:
    """True when jobs run from the PostgreSQL queue (job_queue=postgres), not this process's timer."""
    mode = settings.job_queue.strip().lower()
    if mode not in ("local", "postgres"):
        raise ConfigError(f"PAPERFEED_JOB_QUEUE={settings.job_queue!r}: use 'local' or 'postgres'")
    return mode == "postgres"


def parse_schedule(text: str) -> BaseTrigger | None:
    """A cron expression ('0 6 * * 1-5', UTC) or an interval ('30m', 'every 6h'); empty is None."""
    text = (text or "").strip()
    if not text:
        return None
    m = re.fullmatch(r"(?:every\s+)?(\d+)\s*([smhd])", text, re.IGNORECASE)
    if m:
        seconds = int(m.group(1)) * _UNITS[m.group(2).lower()]
        if seconds <= 0:
            raise ConfigError(f"schedule {text!r}: an interval must be longer than 0")
        return IntervalTrigger(seconds=seconds, timezone=UTC)
    if len(text.split()) == 5:
        minute, hour, day, month, dow = text.split()
        try:
            return CronTrigger(
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=_cron_weekdays(dow),
                timezone=UTC,
            )
        except ValueError as exc:
            raise ConfigError(f"schedule {text!r} is not a valid cron expression: {exc}") from None
    raise ConfigError(
        f"schedule {text!r} is neither a 5-field cron expression ('0 6 * * 1-5') "
        "nor an interval ('30m', '6h', '1d'); fix the setting or set it empty to disable the job"
    )


_DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _cron_weekdays(field: str) -> str:
    """Standard cron weekdays (0 or 7 Sunday, 1 Monday) as names, since APScheduler 3 counts from Monday=0."""
    if field == "*" or not any(ch.isdigit() for ch in field):
        return field
    names: list[str] = []
    for part in field.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = int(a), int(b)
        else:
            lo = hi = int(rng)
        if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi and step > 0):
            raise ValueError(f"bad day-of-week {part!r} (use 0-7, 0 and 7 are Sunday)")
        for n in range(lo, hi + 1, step):
            if _DAY_NAMES[n] not in names:
                names.append(_DAY_NAMES[n])
    return ",".join(names)


def get_job(name: str) -> Job:
    """A registered job by name, or ConfigError listing the valid names."""
    job = JOBS.get(name)
    if job is None:
        raise ConfigError(f"unknown job {name!r}: valid jobs are {', '.join(sorted(JOBS))}")
    return job


def run_job(settings: Settings, db: Database, name: str, *, raise_errors: bool = False) -> str:
    """Run a job unless another worker is running it: returns 'ran', 'busy' or 'failed'."""
    job = get_job(name)
    with job_lock(db, f"job:{name}", lease=settings.job_lock_lease) as lock:
        if lock is None:
            log.info("job %s is already running elsewhere; skipped", name)
            return "busy"
        try:
            job.run(settings, db)
        except Exception as exc:
            if raise_errors:
                raise
            if isinstance(exc, PaperfeedError):
                log.error("job %s failed: %s", name, exc)
            else:
                log.exception("job %s failed", name)
            return "failed"
    return "ran"


def scheduled_jobs(settings: Settings) -> list[tuple[Job, BaseTrigger]]:
    """The registered jobs whose schedule setting is not empty, with their triggers."""
    out = []
    for job in JOBS.values():
        try:
            trigger = parse_schedule(str(getattr(settings, job.schedule_setting, "") or ""))
        except ConfigError as exc:
            raise ConfigError(f"PAPERFEED_{job.schedule_setting.upper()}: {exc}") from None
        if trigger is not None and _source_enabled(settings, job.name):
            out.append((job, trigger))
    return out


def build_scheduler(
    settings: Settings, scheduler: BaseScheduler, db: Database | None = None
) -> BaseScheduler:
    """Add every scheduled job to an APScheduler scheduler (not started)."""
    database = db or open_database(settings.database_url)
    for job, trigger in scheduled_jobs(settings):
        scheduler.add_job(
            run_job,
            trigger,
            args=[settings, database, job.name],
            id=job.name,
            name=job.name,
            max_instances=1,  # never overlaps itself in this process; the lock covers others
            coalesce=True,  # after downtime, run once rather than once per missed slot
            misfire_grace_time=MISFIRE_GRACE,
            replace_existing=True,
        )
    return scheduler


def start_scheduler(settings: Settings, db: Database | None = None) -> BackgroundScheduler:
    """Start the scheduled jobs in background threads (for `paperfeed serve`); call shutdown() to stop."""
    scheduler = BackgroundScheduler(timezone=UTC)
    build_scheduler(settings, scheduler, db)
    scheduler.start()
    return scheduler


def maybe_start_scheduler(
    settings: Settings, db: Database | None = None
) -> BackgroundScheduler | None:
    """Start the scheduler for `paperfeed serve` when PAPERFEED_SERVE_SCHEDULER is on, else None."""
    if not settings.serve_scheduler:
        return None
    if queued(settings):
        # Two timers (this one and the queue's) would run every job twice per period.
        log.warning("PAPERFEED_SERVE_SCHEDULER ignored: with job_queue=postgres workers run jobs")
        return None
    return start_scheduler(settings, db)


def run_worker(settings: Settings, db: Database | None = None) -> None:
    """Run the scheduled jobs in the foreground until interrupted (`paperfeed worker`)."""
    scheduler = BlockingScheduler(timezone=UTC)
    build_scheduler(settings, scheduler, db)
    if not scheduler.get_jobs():
        raise ConfigError(
            "no job has a schedule: set e.g. PAPERFEED_SCHEDULE_HARVEST_ARXIV='0 3 * * *'"
        )
    for job in scheduler.get_jobs():
        log.info("scheduled %s: %s", job.id, job.trigger)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


# --- built-in jobs: register yours below with register_job(...) ---


def _harvest_arxiv(settings: Settings, db: Database) -> None:
    sets = [s.strip() for s in settings.harvest_arxiv_sets.split(",") if s.strip()] or [""]
    failures = []
    for set_ in sets:
        try:
            result = harvest(settings, db, "arxiv", set_=set_ or None)
            log.info("%s", result.line())
        except PaperfeedError as exc:
            # One failing set must not keep the others from being harvested.
            failures.append(f"{set_ or 'all'}: {exc}")
    if failures:
        raise PaperfeedError("arXiv harvest failed for " + "; ".join(failures))


def _harvest_hf(settings: Settings, db: Database) -> None:
    log.info("%s", harvest(settings, db, "hf").line())


register_job(
    "harvest_arxiv",
    _harvest_arxiv,
    schedule_setting="schedule_harvest_arxiv",
    help="Harvest arXiv OAI-PMH for each set in harvest_arxiv_sets.",
)
register_job(
    "harvest_hf",
    _harvest_hf,
    schedule_setting="schedule_harvest_hf",
    help="Harvest Hugging Face daily papers since the last run.",
)


# --- bioRxiv / medRxiv ---


def _biorxiv_servers(settings: Settings) -> list[str]:
    listed = [s.strip() for s in settings.harvest_biorxiv_servers.split(",") if s.strip()]
    return [s for s in listed if s in enabled_sources(settings)]  # PAPERFEED_SOURCES wins


def _source_enabled(settings: Settings, job: str) -> bool:
    """False for the harvest jobs of a source PAPERFEED_SOURCES leaves out (biology-only)."""
    if job in ("harvest_arxiv", "harvest_hf"):
        return "arxiv" in enabled_sources(settings)
    if job == "harvest_biorxiv":
        return bool(_biorxiv_servers(settings))
    return True


def _harvest_biorxiv(settings: Settings, db: Database) -> None:
    from paperfeed.service.sources import harvest_subjects

    failures = []
    for server in _biorxiv_servers(settings):
        for category in harvest_subjects(settings, server):
            try:
                log.info(
                    "%s", harvest(settings, db, "biorxiv", server=server, category=category).line()
                )
            except PaperfeedError as exc:
                # One failing server or subject must not keep the others from being harvested.
                failures.append(f"{server} {category or 'all'}: {exc}")
    if failures:
        raise PaperfeedError("bioRxiv harvest failed for " + "; ".join(failures))


register_job(
    "harvest_biorxiv",
    _harvest_biorxiv,
    schedule_setting="schedule_harvest_biorxiv",
    help="Harvest bioRxiv/medRxiv for each server and subject in the harvest_biorxiv_* settings "
    "(and PAPERFEED_SOURCES / PAPERFEED_CATEGORIES).",
)


# --- digests ---


def _send_digests(settings: Settings, db: Database) -> None:
    from paperfeed.digest.send import run

    report = run(db, settings)
    c, s = report.compose, report.send
    log.info(
        "digests: composed %d, nothing new %d; sent %d, retry %d, bounced %d, failed %d%s",
        c.created,
        c.skipped,
        s.sent if s else 0,
        s.retried if s else 0,
        s.bounced if s else 0,
        s.failed if s else 0,
        f"; paused: {s.error}" if s and s.paused else "",
    )


register_job(
    "send_digests",
    _send_digests,
    schedule_setting="schedule_digests",
    help="Compose due email digests into the outbox and send what is pending.",
)


def _send_mail(settings: Settings, db: Database) -> None:
    from paperfeed.digest.postbox import deliver_due

    r = deliver_due(db, settings)
    if r.sent or r.retried or r.failed or r.bounced or r.stopped:
        log.info(
            "account mail: sent %d, retry %d, bounced %d, failed %d%s",
            r.sent,
            r.retried,
            r.bounced,
            r.failed,
            f"; stopped: {r.error}" if r.stopped else "",
        )


register_job(
    "send_mail",
    _send_mail,
    schedule_setting="schedule_mail",
    help="Send queued account emails (sign-in links, verification, subscription confirmations).",
)


# --- chat push ---


def _send_chat(settings: Settings, db: Database) -> None:
    from paperfeed.digest.chat import deliver_due

    r = deliver_due(db, settings)
    if r.sent or r.retried or r.failed:
        log.info("chat push: sent %d, retry %d, failed %d", r.sent, r.retried, r.failed)


register_job(
    "send_chat",
    _send_chat,
    schedule_setting="schedule_chat",
    help="Send queued chat alerts through the members' Apprise URLs (retries with backoff).",
)


# --- community ---


def _rank(settings: Settings, db: Database) -> None:
    from paperfeed.ranking.trending import rank
    from paperfeed.store.sessions import purge_expired

    log.info("trending: ranked %d paper(s)", rank(db, settings))
    with db.write() as conn:  # piggybacks: expired sessions and links need no job of their own
        purge_expired(conn)


register_job(
    "rank",
    _rank,
    schedule_setting="schedule_rank",
    help="Recompute trending scores (time-decayed upvotes and GitHub stars).",
)


# --- search ---


def _index(settings: Settings, db: Database) -> None:
    from paperfeed.search.sync import IndexerBusy, run_index

    try:
        # In the queue the backlog is embedded by the parts below, on every worker at once.
        stats = run_index(db, settings, limit=0 if queued(settings) else None)
    except IndexerBusy:
        # e.g. `paperfeed serve` is still embedding at start-up: this run has nothing to add.
        log.info("index: another indexer is running; skipped")
        return
    log.info(
        "index: %d keyword changes (%d papers), embedded %d, %d vectors",
        stats.lexical_changed,
        stats.lexical_docs,
        stats.embedded,
        stats.vectors,
    )


def _embed_plan(settings: Settings, db: Database) -> list[Part]:
    from paperfeed.search.embed import get_embedder
    from paperfeed.store.vectors import embed_ranges

    # The model name only (the hash of a spec is cheap; minilm loads in about a second).
    name = get_embedder(
        settings.embed_model, threads=settings.embed_threads, providers=settings.embed_providers
    ).name
    with db.read() as conn:
        ranges = embed_ranges(conn, name, max(1, settings.embed_claim))
    return [{"after_rev": a, "upto_rev": b} for a, b in ranges]


def _embed_part(settings: Settings, db: Database, part: Part) -> None:
    from paperfeed.search.embed import get_embedder
    from paperfeed.search.sync import embed_missing

    emb = get_embedder(
        settings.embed_model, threads=settings.embed_threads, providers=settings.embed_providers
    )
    after, upto = int(part["after_rev"]), int(part["upto_rev"])
    embedded, unchanged = embed_missing(
        db, emb, batch=settings.embed_batch, after_rev=after, upto_rev=upto
    )
    log.info(
        "embedded %d paper(s) (%d unchanged) changed after %d up to %d",
        embedded,
        unchanged,
        after,
        upto,
    )


register_job(
    "index",
    _index,
    schedule_setting="schedule_index",
    help="Embed papers without vectors and bring the keyword and vector indexes up to date.",
    plan=_embed_plan,
    run_part=_embed_part,
)


# --- follows: match what harvests and imports stored, and newly embedded papers ---


def _follows(settings: Settings, db: Database) -> None:
    from paperfeed.matching import match_new

    log.info("%s", match_new(db, settings).line())


register_job(
    "follows",
    _follows,
    schedule_setting="schedule_index",
    help="Match new papers and new vectors against members' follows (docs/follow.md).",
)


# --- recommend ---


def _recommend(settings: Settings, db: Database) -> None:
    from paperfeed.recommend.service import refresh_all

    rep = refresh_all(db, settings)
    log.info(
        "recommend: %d member(s), %d list(s) refreshed, %d fresh, %d failed",
        rep.members,
        rep.refreshed,
        rep.fresh,
        rep.failed,
    )


register_job(
    "recommend",
    _recommend,
    schedule_setting="schedule_recommend",
    help="Refresh members' recommendations whose library changed or when new papers arrived.",
)


# --- paper extras: Hub repos citing featured papers, summaries by the operator's model ---


def _hub_links(settings: Settings, db: Database) -> None:
    from paperfeed.hub_links import refresh_hub_links

    rep = refresh_hub_links(settings, db)
    log.info(
        "hub links: %d paper(s), %d repo(s), %d failed", rep.papers, rep.repos, len(rep.failed)
    )


register_job(
    "hub_links",
    _hub_links,
    schedule_setting="schedule_hub_links",
    help="Ask the Hugging Face Hub which models, datasets and Spaces cite recently featured papers.",
)


def _summaries(settings: Settings, db: Database) -> None:
    from paperfeed.summaries import summarize_papers

    if settings.summarizer.strip().lower() == "none":
        return  # the default: no model configured, nothing to do and nothing to log
    rep = summarize_papers(settings, db)
    log.info(
        "summaries: %d written, %d unchanged, %d failed",
        rep.written,
        rep.unchanged,
        len(rep.failed),
    )


register_job(
    "summarize",
    _summaries,
    schedule_setting="schedule_summaries",
    help="Summarize papers lacking a summary with the configured model (PAPERFEED_SUMMARIZER).",
)

# --- full text from arXiv's HTML ---


def _fulltext(settings: Settings, db: Database) -> None:
    from paperfeed.fulltext import run_job as fetch_batch

    fetch_batch(settings, db)


register_job(
    "fulltext",
    _fulltext,
    schedule_setting="schedule_fulltext",
    help="Fetch arXiv's HTML of new papers (when fulltext_enabled) for sections and references.",
)

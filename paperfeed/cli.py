"""The `paperfeed` command line: every stage is a command cron can run."""

from __future__ import annotations

import gzip
import logging.config
import sys
from datetime import datetime, time
from pathlib import Path
from typing import Any

import click

from paperfeed.config import Settings, describe, settings_markdown
from paperfeed.errors import PaperfeedError
from paperfeed.pipeline import ImportSummary, export_jsonl, import_files
from paperfeed.sources.files import LineError
from paperfeed.store import Database, open_database
from paperfeed.store.migrate import upgrade


def _database_where(url: str | None) -> str:
    """Name a database by dialect, host, port, name and user; never its password."""
    import sqlalchemy as sa

    try:
        u = sa.engine.make_url(url or "")
    except sa.exc.ArgumentError:
        return "the database"
    if u.get_backend_name() == "sqlite":
        return f"the SQLite database {u.database or ':memory:'}"
    host = u.host or "localhost (socket)"
    port = f":{u.port}" if u.port else ""
    user = f" as user {u.username}" if u.username else ""
    return f"the PostgreSQL database {u.database or '?'} on {host}{port}{user}"


def _one_line(exc: BaseException, url: str | None) -> str | None:
    """The one-line message for an expected failure; None for anything else (a bug)."""
    import zlib

    import sqlalchemy as sa

    if isinstance(exc, PaperfeedError):
        return str(exc)
    if isinstance(exc, sa.exc.DBAPIError):
        cause = " ".join(str(exc.orig or exc).split()) or type(exc).__name__
        where = _database_where(url)
        if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) and (
            exc.connection_invalidated or "connect" in cause.lower()
        ):
            return f"cannot connect to {where}: {cause}"
        return f"database error on {where}: {cause}"
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return f"database error on {_database_where(url)}: {' '.join(str(exc).split())}"
    if isinstance(exc, EOFError | zlib.error):
        return f"unexpected end of compressed input: {exc}"
    if isinstance(exc, OSError):  # a file or socket: permissions, a full disk, a broken pipe
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror or exc}"
    return None


def _redact(text: str, url: str | None) -> str:
    """The text without the database password, whatever message carried it."""
    import sqlalchemy as sa

    try:
        password = sa.engine.make_url(url or "").password
    except sa.exc.ArgumentError:
        return text
    return text.replace(str(password), "***") if password else text


class _Group(click.Group):
    """A click group that prints every expected failure as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # The one place for every command: a database that cannot be reached, a file that
            # cannot be read, a PaperfeedError. Anything else is a bug and keeps its traceback.
            settings = ctx.obj if isinstance(ctx.obj, Settings) else None
            url = settings.database_url if settings else ctx.params.get("database_url")
            message = _one_line(exc, url)
            if message is None:
                raise
            click.echo(f"error: {_redact(message, url)}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="PAPERFEED_DATABASE_URL",
    help="Database URL (default sqlite:///paperfeed.db).",
)
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """paperfeed: a self-hostable research-paper feed."""
    ctx.obj = Settings.from_env(database_url=database_url)


def settings_of(ctx: click.Context) -> Settings:
    """The settings the top-level group built."""
    return ctx.find_root().obj  # type: ignore[no-any-return]


# --- core: init, import, export, serve, settings ---

SAMPLE = Path(__file__).resolve().parent / "data" / "sample.jsonl.gz"
# bio: the demo's bioRxiv/medRxiv slice (scripts/make_preprint_sample.py), loaded with SAMPLE.
PREPRINT_SAMPLE = SAMPLE.with_name("sample_preprints.jsonl.gz")
SAMPLES = [SAMPLE, PREPRINT_SAMPLE]


def _open(settings: Settings) -> Database:
    return open_database(settings.database_url)


@main.command()
@click.option(
    "--sample",
    is_flag=True,
    help="Also load the bundled real sample (about 4,900 arXiv papers, 100 bioRxiv/medRxiv).",
)
@click.pass_context
def init(ctx: click.Context, sample: bool) -> None:
    """Create or upgrade the database schema (and optionally load the sample)."""
    settings = settings_of(ctx)
    db = Database(settings.database_url)
    applied = upgrade(db)
    click.echo(
        f"database ready at {_shown_url(settings.database_url)} ({len(applied)} migration(s) applied)"
    )
    if sample:
        _import(db, SAMPLES, quiet=False)


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="No progress display, only the summary.")
@click.pass_context
def import_(ctx: click.Context, files: tuple[Path, ...], quiet: bool) -> None:
    """Import papers from files: HF daily papers JSON/JSONL, the arXiv snapshot, paperfeed JSONL (.gz ok)."""
    for f in files:
        if not f.exists():
            raise PaperfeedError(f"no such file: {f}")
    summary = _import(_open(settings_of(ctx)), list(files), quiet=quiet)
    if summary.errors:
        sys.exit(1)


def _import(db: Database, files: list[Path], *, quiet: bool) -> ImportSummary:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    err = Console(stderr=True)
    shown = 0

    def report(e: LineError) -> None:
        nonlocal shown
        if e.line is None:  # the whole file (a truncated gzip): always shown, as FILE: reason
            click.echo(str(e), err=True)
            return
        shown += 1
        if shown <= 20:  # a broken file should not flood the terminal; the summary has the count
            click.echo(f"skipped {e}", err=True)  # plain: a file name may hold [rich markup]

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
    )
    # No progress display off a terminal: cron mail and pipes get only the lines that matter.
    with Progress(
        *columns, console=err, disable=quiet or not err.is_terminal, transient=True
    ) as progress:
        task = progress.add_task("importing", total=None)
        summary = import_files(
            db, files, on_progress=lambda n: progress.advance(task, n), on_error=report
        )
    if shown > 20:
        err.print(f"... and {shown - 20} more skipped record(s)")
    click.echo(summary.line())
    return summary


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output); .gz compresses.",
)
@click.pass_context
def export(ctx: click.Context, output: Path | None) -> None:
    """Export every paper with its feed entries as paperfeed JSONL (re-importable)."""
    db = _open(settings_of(ctx))
    if output is None:
        n = export_jsonl(db, sys.stdout)
    else:
        opener = gzip.open if output.suffix == ".gz" else open
        with opener(output, "wt", encoding="utf-8") as fh:  # type: ignore[operator]
            n = export_jsonl(db, fh)
    click.echo(f"exported {n} paper(s)", err=True)


@main.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option(
    "--demo", is_flag=True, help="Load the bundled real sample first if the database has no papers."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Web processes to start (default PAPERFEED_WEB_WORKERS, 1).",
)
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, demo: bool, workers: int | None
) -> None:
    """Run the web server (pages, JSON API and feeds), in one or several processes."""
    import uvicorn

    from paperfeed.logs import log_config
    from paperfeed.site import create_site
    from paperfeed.store.papers import count_papers

    settings = settings_of(ctx).with_(
        **{k: v for k, v in {"host": host, "port": port}.items() if v}
    )
    db = _open(settings)
    if demo:
        with db.read() as conn:
            empty = count_papers(conn) == 0
        if empty:
            click.echo("loading the bundled sample...", err=True)
            _import(db, SAMPLES, quiet=False)
            _rank_at_latest_day(db, settings)
            from paperfeed.fulltext import load_bundled

            # A few real papers with full text, references and body search (docs/fulltext.md).
            click.echo(f"loaded {load_bundled(db)} bundled full texts", err=True)
    logging_config = log_config(settings.log_format, settings.log_level)
    # Configured now, not when uvicorn starts: start-up indexing logs its progress before that.
    logging.config.dictConfig(logging_config)
    workers = workers or settings.web_workers
    # Once per deployment, in this parent process, never in each of the N web workers.
    if settings.index_publish_dir:
        _fetch_published(settings)  # publish mode: the worker indexes, web processes never do
    elif settings.index_on_start:
        from paperfeed.search.sync import index_in_background
        from paperfeed.worker import queued

        index_in_background(db, settings, workers_embed=queued(settings))
    from paperfeed.worker import maybe_start_scheduler

    scheduler = maybe_start_scheduler(settings, db)
    click.echo(f"paperfeed on http://{settings.host}:{settings.port}", err=True)
    try:
        if workers == 1:
            uvicorn.run(
                create_site(settings, db),  # the web app with MCP at /mcp
                host=settings.host,
                port=settings.port,
                log_config=logging_config,
            )
        else:
            _serve_workers(settings, db, workers, logging_config)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


def _fetch_published(settings: Settings) -> None:
    """Fetch the newest published keyword index before serving, so search answers at once."""
    from paperfeed.errors import PaperfeedError
    from paperfeed.search.publication import follower_for
    from paperfeed.search.sync import search_dir

    follower = follower_for(settings, search_dir(settings))
    try:
        gen = follower.follow() if follower else None
    except PaperfeedError as exc:
        click.echo(f"published keyword index not fetched yet: {exc}", err=True)
        return
    if gen is None and follower is not None and follower.local_generation() is None:
        click.echo(
            "no keyword index published yet: search answers once `paperfeed index` (or the "
            f"worker) publishes one to {settings.index_publish_dir}",
            err=True,
        )


def _rank_at_latest_day(db: Database, settings: Settings) -> None:
    """Rank the sample as of the end of its newest day, so its trending page is not empty today."""
    from paperfeed.ranking.trending import rank as rank_trending
    from paperfeed.store.feed import latest_day

    with db.read() as conn:
        day = latest_day(conn)
    if day is not None:
        rank_trending(db, settings, now=datetime.combine(day, time(23, 59)))


def _serve_workers(
    settings: Settings, db: Database, workers: int, logging_config: dict[str, Any]
) -> None:
    """Run several uvicorn processes, each building its own app and connections from the environment."""
    import os
    import shutil
    import tempfile

    import uvicorn

    db.dispose()  # migrated above; the workers open their own connections
    os.environ["PAPERFEED_DATABASE_URL"] = settings.database_url  # --database-url reaches workers
    own_dir = None
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir:
        for old in Path(metrics_dir).glob("*.db"):  # counters of a previous run must not add up
            old.unlink()
    else:
        own_dir = metrics_dir = tempfile.mkdtemp(prefix="paperfeed-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "paperfeed.site:site_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_config=logging_config,
        )
    finally:
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)


@main.command("settings")
@click.option(
    "--markdown",
    is_flag=True,
    help="Print a Markdown table (docs/configuration.md is made with it).",
)
def settings_cmd(markdown: bool) -> None:
    """List every setting: environment variable, default and meaning."""
    if markdown:
        click.echo(settings_markdown(), nl=False)
        return
    for name, default, help_ in describe():
        click.echo(f"{name} (default {default})\n    {help_}")


# --- search ---


@main.command("index")
@click.option(
    "--rebuild", is_flag=True, help="Rebuild the keyword and vector indexes from scratch."
)
@click.option("--no-embed", is_flag=True, help="Only update the keyword index; embed nothing.")
@click.option(
    "--batch", type=int, default=None, help="Papers per embedding call (default: setting)."
)
@click.option("--limit", type=int, default=None, help="Embed at most this many papers this run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def index_cmd(
    ctx: click.Context,
    rebuild: bool,
    no_embed: bool,
    batch: int | None,
    limit: int | None,
    quiet: bool,
) -> None:
    """Bring the search indexes up to date: keywords first, then embed papers, then vectors."""
    from paperfeed.search.sync import no_progress, rich_progress, run_index

    settings = settings_of(ctx)
    db = _open(settings)
    bar, update = no_progress() if quiet or no_embed else rich_progress()
    with bar:
        stats = run_index(
            db,
            settings,
            rebuild=rebuild,
            embed=not no_embed,
            batch=batch,
            limit=limit,
            progress=update,
        )
    click.echo(
        f"keyword index: {stats.lexical_docs} papers ({stats.lexical_changed} changes, "
        f"watermark {stats.lexical_rev}); embedded {stats.embedded} "
        f"({stats.unchanged_text} unchanged); vector index: {stats.vectors} vectors",
        err=True,
    )
    if stats.published:
        click.echo(f"published keyword index {stats.published} to {settings.index_publish_dir}")


@main.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(["hybrid", "lexical", "semantic"]), default="hybrid")
@click.option("--limit", "-n", type=int, default=10, help="Results to show.")
@click.option("--sort", type=click.Choice(["relevance", "date", "upvotes"]), default="relevance")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")
@click.pass_context
def search_cmd(
    ctx: click.Context, query: tuple[str, ...], mode: str, limit: int, sort: str, as_json: bool
) -> None:
    """Search papers, e.g. paperfeed search 'diffusion cat:cs.CV year:2025'."""
    import json

    from paperfeed.search import search

    settings = settings_of(ctx)
    res = search(_open(settings), settings, " ".join(query), mode=mode, limit=limit, sort=sort)
    for note in res.notes:
        click.echo(f"note: {note}", err=True)
    if not as_json:
        click.echo(f"{res.total} results ({res.mode})", err=True)
    for hit, p in zip(res.hits, res.papers, strict=True):
        if as_json:
            click.echo(json.dumps({"id": p.id, "score": round(hit.score, 4), "title": p.title}))
        else:
            click.echo(f"{p.id:<16} {hit.score:7.3f}  {' '.join(p.title.split())}")


# --- harvest ---


@main.group("harvest")
def harvest_group() -> None:
    """Fetch new papers from arXiv and Hugging Face.

    Exit codes: 0 something new or changed arrived, 3 the run completed with nothing new,
    2 the run failed (the cursor did not move; running it again resumes).
    """


def _harvest_cli(ctx: click.Context, name: str, quiet: bool, **options: Any) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from paperfeed.harvest import HarvestResult, harvest
    from paperfeed.sources.base import Page

    settings = settings_of(ctx)
    db = _open(settings)
    console = Console(stderr=True)
    seen = 0
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    ) as progress:
        task = progress.add_task(f"harvest {name}", total=None)

        def on_page(page: Page, result: HarvestResult) -> None:
            nonlocal seen
            seen += len(page.records) + len(page.deleted) + len(page.errors)
            c = result.counts
            progress.update(
                task,
                completed=seen,
                total=page.total,
                description=f"{result.source} {page.label}: {c.new} new, {c.updated} updated",
            )
            if not progress.disable:
                return
            if not quiet:
                console.print(f"{result.source} {page.label}: {seen} record(s) so far")

        result = harvest(settings, db, name, on_page=on_page, **options)
    click.echo(result.line())
    for problem in result.problems[:10]:
        click.echo(f"  skipped {problem}", err=True)
    ctx.exit(result.exit_code)


_quiet = click.option("--quiet", "-q", is_flag=True, help="No progress display, only the summary.")


@harvest_group.command("arxiv")
@click.option("--set", "set_", help="OAI-PMH set, e.g. cs, math, physics:hep-th (default: all).")
@click.option("--from", "from_", help="First datestamp YYYY-MM-DD (default: the last run's end).")
@click.option("--until", help="Last datestamp YYYY-MM-DD (default: open-ended).")
@click.option(
    "--format",
    "prefix",
    type=click.Choice(["arXivRaw", "arXiv", "oai_dc"]),
    help="Metadata format (default from PAPERFEED_HARVEST_ARXIV_FORMAT, arXivRaw).",
)
@_quiet
@click.pass_context
def harvest_arxiv(
    ctx: click.Context,
    set_: str | None,
    from_: str | None,
    until: str | None,
    prefix: str | None,
    quiet: bool,
) -> None:
    """Harvest arXiv OAI-PMH records changed in a date window, e.g. --set cs --from 2026-11-01."""
    options: dict[str, Any] = {"set_": set_, "from_": from_, "until": until}
    if prefix:
        options["prefix"] = prefix
    _harvest_cli(ctx, "arxiv", quiet, **options)


@harvest_group.command("hf")
@click.option("--date", "day", help="One day YYYY-MM-DD.")
@click.option("--from", "from_", help="First day of a range (default: the last run's last day).")
@click.option("--until", help="Last day of a range (default: today, UTC).")
@_quiet
@click.pass_context
def harvest_hf(
    ctx: click.Context, day: str | None, from_: str | None, until: str | None, quiet: bool
) -> None:
    """Harvest Hugging Face daily papers for a day (--date) or a range (--from/--until)."""
    if day and (from_ or until):
        raise click.UsageError("give either --date or --from/--until, not both")
    if day:
        from_ = until = day
    _harvest_cli(ctx, "hf", quiet, from_=from_, until=until)


@harvest_group.command("ids")
@click.argument("ids", nargs=-1, required=True)
@_quiet
@click.pass_context
def harvest_ids(ctx: click.Context, ids: tuple[str, ...], quiet: bool) -> None:
    """Look papers up by arXiv id through the arXiv API (batched) and store them."""
    _harvest_cli(ctx, "arxiv-ids", quiet, ids=list(ids))


# --- harvest biorxiv (docs/biorxiv.md) ---


@harvest_group.command("biorxiv")
@click.option("--from", "from_", help="First posting day YYYY-MM-DD (default: the last run's end).")
@click.option("--to", help="Last posting day YYYY-MM-DD (default: today, UTC).")
@click.option(
    "--server",
    type=click.Choice(["biorxiv", "medrxiv"]),
    default="biorxiv",
    show_default=True,
    help="Which preprint server to list.",
)
@click.option("--category", help="One subject, e.g. 'cell biology' (default: every subject).")
@click.option(
    "--doi",
    "dois",
    multiple=True,
    help="Look one preprint up by DOI or link instead (repeatable; backfill), e.g. "
    "--doi 10.1101/2021.09.30.462652.",
)
@_quiet
@click.pass_context
def harvest_biorxiv(
    ctx: click.Context,
    from_: str | None,
    to: str | None,
    server: str,
    category: str | None,
    dois: tuple[str, ...],
    quiet: bool,
) -> None:
    """Harvest bioRxiv or medRxiv preprints posted in a date window, e.g. --from 2026-11-01."""
    if dois:
        if from_ or to or category:
            raise click.UsageError("--doi looks DOIs up: it takes no --from, --to or --category")
        _harvest_cli(ctx, "biorxiv-dois", quiet, dois=dois)
        return
    _harvest_cli(ctx, "biorxiv", quiet, from_=from_, to=to, server=server, category=category)


@harvest_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def harvest_status(ctx: click.Context, as_json: bool) -> None:
    """Show each source's cursor and last run: when, outcome, counts and errors."""
    import dataclasses
    import json

    from rich.console import Console
    from rich.table import Table

    from paperfeed.harvest import status

    rows = status(_open(settings_of(ctx)))
    if as_json:
        for row in rows:
            run = row["last_run"]
            row["last_run"] = dataclasses.asdict(run) if run else None
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        click.echo("no harvest has run yet: try `paperfeed harvest arxiv --set cs --from <date>`")
        return
    table = Table(
        "source",
        "cursor",
        "last run (UTC)",
        "status",
        "new",
        "updated",
        "skipped",
        "errors",
        "message",
    )
    for row in rows:
        run = row["last_run"]
        cursor = row["cursor"] or "-"
        if row["pending"]:
            cursor += " (unfinished run will resume)"
        if run is None:
            table.add_row(row["source"], cursor, "-", "-", "", "", "", "", "")
            continue
        table.add_row(
            row["source"],
            cursor,
            run.started_at.strftime("%Y-%m-%d %H:%M"),
            run.status,
            str(run.new),
            str(run.updated),
            str(run.skipped),
            str(run.errors),
            (run.message or "")[:120],
        )
    Console(width=200).print(table)


@main.command("worker")
@click.option(
    "--once", multiple=True, metavar="JOB", help="Run the named job now and exit (repeatable)."
)
@click.option("--list", "list_jobs", is_flag=True, help="List the jobs and their schedules.")
@click.option(
    "--defer",
    "defer_jobs",
    multiple=True,
    metavar="JOB",
    help="With PAPERFEED_JOB_QUEUE=postgres: queue a run of the named job now and exit.",
)
@click.pass_context
def worker_cmd(
    ctx: click.Context, once: tuple[str, ...], list_jobs: bool, defer_jobs: tuple[str, ...]
) -> None:
    """Run scheduled jobs (harvests, ranking, indexing, recommendations, digests) from the settings."""

    from paperfeed.worker import JOBS, get_job, queued, run_job, run_worker

    settings = settings_of(ctx)
    if list_jobs:
        for job in JOBS.values():
            when = getattr(settings, job.schedule_setting, "") or "off"
            click.echo(
                f"{job.name:<16} {when:<16} {job.help} (PAPERFEED_{job.schedule_setting.upper()})"
            )
        return
    from paperfeed.logs import configure_logging

    configure_logging(settings.log_format, settings.log_level)  # text or JSON lines (operations)
    db = _open(settings)
    if once:
        outcome = "ran"
        for name in once:
            get_job(name)
        for name in once:
            outcome = run_job(settings, db, name, raise_errors=True)
            click.echo(f"{name}: {outcome}")
        if outcome == "busy":
            ctx.exit(3)
        return
    if defer_jobs or queued(settings):
        # jobs: the PostgreSQL queue shared by every worker (docs/deploy.md).
        from paperfeed.jobqueue import defer, require_postgres, run_queue_worker

        require_postgres(settings)
        for name in defer_jobs:
            job_id = defer(settings, db, name)
            click.echo(f"{name}: queued as job {job_id}" if job_id else f"{name}: already queued")
        if not defer_jobs:
            run_queue_worker(settings, db)
        return
    run_worker(settings, db)


# --- operations: backup, restore (serve --workers and logging live in `serve` above) ---


def _shown_url(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH when it exists.")
@click.pass_context
def backup_cmd(ctx: click.Context, path: Path, force: bool) -> None:
    """Write a consistent online backup to PATH (SQLite backup API, or pg_dump custom format)."""
    from paperfeed.store.backup import backup

    settings = settings_of(ctx)
    # No migration first: back up exactly what is there, even from an older release.
    info = backup(Database(settings.database_url), path, overwrite=force)
    click.echo(
        f"backup of {_shown_url(settings.database_url)} written to {info.path} "
        f"({info.kind}, {info.size / 1e6:.1f} MB)"
    )


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Replace the database without asking.")
@click.option(
    "--no-index",
    is_flag=True,
    help="Skip rebuilding the search indexes (then run `paperfeed index --rebuild`).",
)
@click.pass_context
def restore_cmd(ctx: click.Context, path: Path, yes: bool, no_index: bool) -> None:
    """Replace the database's contents with a backup, upgrade it, check it, rebuild search indexes."""
    from paperfeed.store.backup import integrity_problems, restore, table_counts

    settings = settings_of(ctx)
    shown = _shown_url(settings.database_url)
    if not yes:
        click.confirm(f"replace everything in {shown} with {path}?", abort=True)
    db = Database(settings.database_url)
    kind = restore(db, path)
    applied = upgrade(db)  # a backup from an older release comes up to the current schema
    problems = integrity_problems(db)
    if problems:
        raise PaperfeedError(
            f"the restored database failed its integrity check: {'; '.join(problems[:5])}"
        )
    counts = table_counts(db)
    click.echo(
        f"restored {path} ({kind}) into {shown}: {counts.get('papers', 0)} papers, "
        f"{len(counts)} tables, {len(applied)} migration(s) applied, integrity ok"
    )
    if no_index:
        click.echo("search indexes not rebuilt: run `paperfeed index --rebuild`", err=True)
        return
    click.echo(_rebuild_derived(settings, db), err=True)


def _rebuild_derived(settings: Settings, db: Database) -> str:
    """Rebuild the search indexes from the restored store; they may describe another database."""
    import json
    import shutil

    try:
        from paperfeed.search.sync import (
            Layout,
            indexer_lock,
            publish_lexical,
            search_dir,
            sync_lexical,
            sync_vectors,
        )
    except ImportError:
        folder = settings.derived_dir / "search"
        shutil.rmtree(folder, ignore_errors=True)
        return f"removed the old search indexes in {folder}: run `paperfeed index` to rebuild them"
    layout = Layout(search_dir(settings))
    try:
        meta = json.loads(layout.ann_meta.read_text())
    except (FileNotFoundError, ValueError):
        meta = {}
    with indexer_lock(layout):
        rev, _, docs = sync_lexical(db, layout, rebuild=True)
        # Publish mode: web machines switch to the restored store's index at their next search.
        publish_lexical(layout, settings, rev, docs, changed=docs, rebuilt=True)
        if meta.get("model") and meta.get("dim"):
            # Vectors are stored in the database, so the ANN index rebuilds without the model.
            size, _ = sync_vectors(db, layout, str(meta["model"]), int(meta["dim"]), rebuild=True)
            return f"search indexes rebuilt: {docs} papers by keyword, {size} vectors"
        layout.ann.unlink(missing_ok=True)
        layout.ann_meta.unlink(missing_ok=True)
    return f"keyword index rebuilt ({docs} papers); run `paperfeed index` for semantic search"


# --- digests ---


def _parse_period(value: str | None) -> Any:
    from datetime import date

    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: use YYYY-MM-DD (the local day whose slot to compose)"
        ) from None


@main.command("send-digests")
@click.option(
    "--dry-run", is_flag=True, help="Show what would be composed; write and send nothing."
)
@click.option(
    "--period",
    metavar="YYYY-MM-DD",
    help="Compose the slot of this local day (its week for weekly) instead of the latest one.",
)
@click.option("--no-send", is_flag=True, help="Only compose into the outbox.")
@click.option("--limit", type=int, default=None, help="Send at most this many emails.")
@click.pass_context
def send_digests_cmd(
    ctx: click.Context, dry_run: bool, period: str | None, no_send: bool, limit: int | None
) -> None:
    """Compose due email digests into the outbox, then send everything pending."""
    from paperfeed.digest.compose import compose_due
    from paperfeed.digest.send import send_pending

    settings = settings_of(ctx)
    as_of = _parse_period(period)
    db = _open(settings)
    composed = compose_due(db, settings, as_of=as_of, dry_run=dry_run)
    if dry_run:
        click.echo(
            f"dry run: {composed.due} due, {composed.created} with new papers, "
            f"{composed.skipped} with nothing new; nothing written or sent"
        )
        for c in composed.preview[:20]:
            click.echo(f"  {c.subscription.email} {c.period.key}: {c.count} papers")
        return
    click.echo(
        f"composed {composed.created} digests ({composed.skipped} with nothing new, "
        f"{composed.not_yet} not due yet)"
    )
    for note in composed.notes:
        click.echo(f"note: {note}", err=True)
    if no_send:
        return
    sent = send_pending(db, settings, limit=limit)
    click.echo(
        f"sent {sent.sent}, retry later {sent.retried}, bounced {sent.bounced}, "
        f"failed {sent.failed}, cancelled {sent.cancelled}"
    )
    if sent.paused:
        click.echo(
            f"paused: {sent.error}; unsent digests stay in the outbox for the next run", err=True
        )
        ctx.exit(1)


@main.group("digests")
def digests_group() -> None:
    """Inspect email digests and subscriptions."""


@digests_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def digests_status(ctx: click.Context, as_json: bool) -> None:
    """Outbox counts (sent, failed, pending...) and subscriptions by status."""
    import json

    from paperfeed.digest.send import status

    counts = status(_open(settings_of(ctx)))
    if as_json:
        click.echo(json.dumps(counts, indent=2, sort_keys=True))
        return
    click.echo("outbox:        " + ", ".join(f"{k} {v}" for k, v in counts["outbox"].items()))
    subs = counts["subscriptions"]
    click.echo(
        "subscriptions: " + (", ".join(f"{k} {v}" for k, v in sorted(subs.items())) or "none")
    )


# --- community: users and trending ---


@main.group()
def user() -> None:
    """Manage accounts: create users (the first admin) and change roles."""


@user.command("create")
@click.argument("email")
@click.option("--admin", "role", flag_value="admin", help="Make the user an admin.")
@click.option("--curator", "role", flag_value="curator", help="Make the user a curator.")
@click.option("--name", "display_name", default="", help="Display name (default: from the email).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (for scripts)."
)
@click.pass_context
def user_create(
    ctx: click.Context, email: str, role: str | None, display_name: str, password_stdin: bool
) -> None:
    """Create a verified account (prompts for a password of at least 12 characters)."""
    from paperfeed.store import users as user_store
    from paperfeed.web.auth import check_email, check_password, hash_password

    email = check_email(email)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    check_password(password)
    db = _open(settings_of(ctx))
    with db.write() as conn:
        u = user_store.create_user(
            conn,
            email,
            display_name or email.partition("@")[0],
            password_hash=hash_password(password),
            role=role or "member",
            verified=True,
        )
    click.echo(f"created {u.role} {u.email} (@{u.username})")


@user.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(["admin", "curator", "member"]))
@click.pass_context
def user_role(ctx: click.Context, email: str, role: str) -> None:
    """Give an existing user a role: admin, curator or member."""
    from paperfeed.errors import NotFound
    from paperfeed.store import users as user_store

    db = _open(settings_of(ctx))
    with db.write() as conn:
        u = user_store.get_by_email(conn, email)
        if u is None:
            raise NotFound(
                f"no account for {email}: create it with `paperfeed user create {email}`"
            )
        user_store.set_role(conn, u.id, role)
    click.echo(f"{u.email} is now {role}")


@main.command()
@click.option(
    "--at",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
    help="Rank as of this UTC time instead of now (e.g. to replay an archive).",
)
@click.pass_context
def rank(ctx: click.Context, at: datetime | None) -> None:
    """Recompute trending scores (time-decayed upvotes and GitHub stars) and store them."""
    from paperfeed.ranking.trending import rank as rank_trending

    n = rank_trending(_open(settings_of(ctx)), settings_of(ctx), now=at)
    click.echo(f"ranked {n} trending paper(s)")


# --- recommend ---


def _member(db: Database, email: str) -> Any:
    from paperfeed.errors import NotFound
    from paperfeed.store import users as user_store

    with db.read() as conn:
        u = user_store.get_by_email(conn, email)
    if u is None:
        raise NotFound(f"no account for {email}: create it with `paperfeed user create {email}`")
    return u


@main.command("recommend")
@click.option("--user", "email", help="The member's email address.")
@click.option("--collection", help="Only this collection (name or id).")
@click.option("--limit", default=20, show_default=True, help="How many papers to show.")
@click.option("--all", "all_members", is_flag=True, help="Refresh every member's stale lists.")
@click.option("--force", is_flag=True, help="Recompute even when nothing changed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def recommend_cmd(
    ctx: click.Context,
    email: str | None,
    collection: str | None,
    limit: int,
    all_members: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Show (refreshing first) a member's recommendations, or refresh everyone's with --all."""
    import json as json_

    from paperfeed.errors import NotFound
    from paperfeed.recommend import service
    from paperfeed.store import library as store_library

    settings = settings_of(ctx)
    db = _open(settings)
    if all_members:
        rep = service.refresh_all(db, settings, force=force)
        click.echo(
            f"recommendations: {rep.members} member(s), {rep.refreshed} list(s) refreshed, "
            f"{rep.fresh} already fresh, {rep.failed} failed"
        )
        if rep.failed:
            sys.exit(1)
        return
    if not email:
        raise PaperfeedError("say whose recommendations to show: --user EMAIL (or --all)")
    u = _member(db, email)
    cid = None
    if collection:
        with db.read() as conn:
            col = store_library.find_collection(conn, u.id, collection)
        if col is None:
            raise NotFound(f"{email} has no collection {collection!r}: see /library")
        cid = col.id
    if force:
        service.refresh(db, settings, u.id, service.scope_for(cid))
    res = service.for_you(db, settings, u.id, collection_id=cid, limit=limit)
    if as_json:
        click.echo(
            json_.dumps(
                {
                    "method": res.method,
                    "positives": res.positives,
                    "items": [
                        {
                            "id": r.paper.id,
                            "title": r.paper.title,
                            "score": r.score,
                            "reason": r.reason,
                        }
                        for r in res.items
                    ],
                },
                indent=2,
            )
        )
        return
    if not res.items:
        click.echo(
            "no recommendations yet: save or upvote papers (or `paperfeed library import`)"
            if res.positives == 0
            else "no new papers to recommend"
        )
        return
    click.echo(f"{len(res.items)} paper(s) for {u.email} ({res.method}, {res.positives} positives)")
    for i, r in enumerate(res.items, 1):
        click.echo(f"{i:3d}. {r.paper.id}  {r.paper.title}\n     {r.reason}")


@main.group("library")
def library_group() -> None:
    """A member's library: import a BibTeX, RIS or Zotero CSL-JSON file."""


@library_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--user", "email", required=True, help="The member's email address.")
@click.option("--collection", default="Imported", show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["bibtex", "ris", "csl-json"]), help="Default: detect."
)
@click.option("-v", "--verbose", is_flag=True, help="One line per entry.")
@click.pass_context
def library_import(
    ctx: click.Context, path: Path, email: str, collection: str, fmt: str | None, verbose: bool
) -> None:
    """Match a library export's entries to stored papers and save them into a collection."""
    from paperfeed.service.library import import_file

    settings = settings_of(ctx)
    db = _open(settings)
    u = _member(db, email)
    rep = import_file(db, u, path.read_bytes(), collection=collection, filename=path.name, fmt=fmt)
    if verbose:
        for e in rep.entries:
            click.echo(f"{e.index:5d} {e.status:9s} {e.label}: {e.detail}")
    click.echo(rep.summary())


# --- paper extras: Hub repos citing papers, summaries by the operator's model ---


@main.command("hub-links")
@click.argument("ids", nargs=-1)
@click.option("--limit", type=click.IntRange(min=1), help="Most papers to ask about this run.")
@click.pass_context
def hub_links(ctx: click.Context, ids: tuple[str, ...], limit: int | None) -> None:
    """Ask the Hub which models, datasets and Spaces cite papers (default: recently featured ones)."""
    from paperfeed.hub_links import refresh_hub_links
    from paperfeed.normalize import canonical_id

    settings = settings_of(ctx)
    chosen = [canonical_id(i) for i in ids] or None
    rep = refresh_hub_links(settings, _open(settings), chosen, limit=limit)
    click.echo(f"{rep.papers} paper(s) refreshed, {rep.repos} citing repo(s) counted")
    if rep.failed:
        click.echo(f"failed (kept for the next run): {', '.join(rep.failed)}", err=True)
        ctx.exit(1)


@main.command("summarize")
@click.option("--limit", type=click.IntRange(min=1), help="Most papers to summarize this run.")
@click.pass_context
def summarize(ctx: click.Context, limit: int | None) -> None:
    """Write summaries of papers that have none, with the model PAPERFEED_SUMMARIZER names."""
    from paperfeed.errors import ConfigError
    from paperfeed.summaries import summarize_papers

    settings = settings_of(ctx)
    if settings.summarizer.strip().lower() == "none":
        raise ConfigError(
            "no summarizer is configured: set PAPERFEED_SUMMARIZER=openai, "
            "PAPERFEED_SUMMARIZER_URL and PAPERFEED_SUMMARIZER_MODEL (see docs/paper-extras.md)"
        )
    rep = summarize_papers(settings, _open(settings), limit=limit)
    click.echo(f"{rep.written} summarized, {rep.unchanged} unchanged, {len(rep.failed)} failed")
    if rep.failed:
        ctx.exit(1)


# --- full text from arXiv's HTML ---


@main.command("fulltext")
@click.option("--ids", "ids", multiple=True, help="Paper ids to fetch (again); repeatable.")
@click.option("--limit", type=int, default=None, help="Papers this run (default: fulltext_batch).")
@click.pass_context
def fulltext_cmd(ctx: click.Context, ids: tuple[str, ...], limit: int | None) -> None:
    """Fetch arXiv's HTML of new papers (or --ids) and store sections and references."""
    from paperfeed.fulltext import fetch_fulltexts

    settings = settings_of(ctx)
    db = _open(settings)
    wanted = [i.strip() for part in ids for i in part.split(",") if i.strip()]
    summary = fetch_fulltexts(db, settings, ids=wanted or None, limit=limit)
    for line in summary.errors:
        click.echo(line, err=True)
    from paperfeed.store.fulltexts import status_counts

    with db.read() as conn:
        held = ", ".join(f"{n} {status}" for status, n in sorted(status_counts(conn).items()))
    click.echo(summary.line() + "; run `paperfeed index` to search the new text", err=True)
    click.echo(f"papers by full-text status: {held or 'none fetched yet'}", err=True)


# --- agents: the MCP server over stdio (docs/agents.md) ---


@main.command("mcp")
@click.option(
    "--token",
    envvar="PAPERFEED_MCP_TOKEN",
    help="A paperfeed API token: the agent acts as its member (default: public reads only).",
)
@click.pass_context
def mcp_command(ctx: click.Context, token: str | None) -> None:
    """Serve MCP over stdio for an agent on this machine (stdout carries the protocol)."""
    import anyio

    from paperfeed.mcpserver.server import build, stdio_principal
    from paperfeed.service.tokens import authenticate

    settings = settings_of(ctx)
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr)  # never on stdout
    db = _open(settings)
    if token:
        who = authenticate(db, token)  # a bad token stops here, with the reason, not per call
        click.echo(f"paperfeed mcp: acting as {who.user.username} ({who.scope} token)", err=True)
    server = build(db, settings, stdio_principal(db, token))
    anyio.run(server.run_stdio_async)


# --- tokens: personal API tokens for scripts and agents (Authorization: Bearer) ---


@main.group("token")
def token_group() -> None:
    """A member's personal API tokens: create (the secret is printed once), list, revoke."""


@token_group.command("create")
@click.argument("email")
@click.option("--scope", type=click.Choice(["read", "write"]), default="read", show_default=True)
@click.option("--name", default="", help="A label to recognise the token by (default: the time).")
@click.option(
    "--expires-days", type=int, help="Days until the token stops working (default: never)."
)
@click.pass_context
def token_create(
    ctx: click.Context, email: str, scope: str, name: str, expires_days: int | None
) -> None:
    """Create a token for a member and print its secret (shown this once only) on stdout."""
    from paperfeed.service.tokens import create_token

    db = _open(settings_of(ctx))
    created = create_token(
        db, _member(db, email), scope=scope, name=name, expires_days=expires_days
    )
    t = created.token
    expires = f", expires {t.expires_at:%Y-%m-%d %H:%M} UTC" if t.expires_at else ""
    click.echo(f"created {t.scope} token {t.id} {t.name!r}{expires}; keep this secret:", err=True)
    click.echo(created.secret)


@token_group.command("list")
@click.argument("email")
@click.pass_context
def token_list(ctx: click.Context, email: str) -> None:
    """List a member's live tokens: id, scope, prefix, created, last used, expiry, name."""
    from paperfeed.service.tokens import list_tokens

    db = _open(settings_of(ctx))
    for t in list_tokens(db, _member(db, email)):
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        expires = f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "never"
        click.echo(
            f"{t.id:5d}  {t.scope:5s}  {t.prefix}…  created {t.created_at:%Y-%m-%d %H:%M}"
            f"  used {used}  expires {expires}  {t.name}"
        )


@token_group.command("revoke")
@click.argument("email")
@click.argument("token_id", type=int)
@click.pass_context
def token_revoke(ctx: click.Context, email: str, token_id: int) -> None:
    """Revoke one of a member's tokens: requests with it get 401 from now on."""
    from paperfeed.service.tokens import revoke_token

    db = _open(settings_of(ctx))
    revoke_token(db, _member(db, email), token_id)
    click.echo(f"revoked token {token_id}")

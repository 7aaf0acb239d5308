"""The `paperfeed` command line: every stage is a command cron can run."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Any

import click

from paperfeed.config import Settings, describe
from paperfeed.errors import PaperfeedError
from paperfeed.pipeline import ImportSummary, export_jsonl, import_files
from paperfeed.sources.files import LineError
from paperfeed.store import Database, open_database
from paperfeed.store.migrate import upgrade


class _Group(click.Group):
    """A click group that prints PaperfeedError as one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PaperfeedError as exc:
            click.echo(f"error: {exc}", err=True)
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


def _open(settings: Settings) -> Database:
    return open_database(settings.database_url)


@main.command()
@click.option(
    "--sample", is_flag=True, help="Also load the bundled real sample (about 4,900 papers)."
)
@click.pass_context
def init(ctx: click.Context, sample: bool) -> None:
    """Create or upgrade the database schema (and optionally load the sample)."""
    settings = settings_of(ctx)
    db = Database(settings.database_url)
    applied = upgrade(db)
    click.echo(f"database ready at {settings.database_url} ({len(applied)} migration(s) applied)")
    if sample:
        _import(db, [SAMPLE], quiet=False)


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
        shown += 1
        if shown <= 20:  # a broken file should not flood the terminal; the summary has the count
            err.print(f"[yellow]skipped[/] {e}", highlight=False, soft_wrap=True)

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, disable=quiet, transient=True) as progress:
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
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, demo: bool) -> None:
    """Run the web server (pages, JSON API and feeds)."""
    import uvicorn

    from paperfeed.store.papers import count_papers
    from paperfeed.web.app import create_app

    settings = settings_of(ctx).with_(
        **{k: v for k, v in {"host": host, "port": port}.items() if v}
    )
    db = _open(settings)
    if demo:
        with db.read() as conn:
            empty = count_papers(conn) == 0
        if empty:
            click.echo("loading the bundled sample...", err=True)
            _import(db, [SAMPLE], quiet=False)
    click.echo(f"paperfeed on http://{settings.host}:{settings.port}", err=True)
    uvicorn.run(create_app(settings, db), host=settings.host, port=settings.port, log_level="info")


@main.command("settings")
def settings_cmd() -> None:
    """List every setting: environment variable, default and meaning."""
    for name, default, help_ in describe():
        click.echo(f"{name} (default {default})\n    {help_}")

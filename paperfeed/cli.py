"""The `paperfeed` command line: every stage is a command cron can run."""

from __future__ import annotations

import sys
from typing import Any

import click

from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError


class _Group(click.Group):
    """A click group that prints PaperfeedError as one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PaperfeedError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", envvar="PAPERFEED_DATABASE_URL", help="Database URL (default sqlite:///paperfeed.db).")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """paperfeed: a self-hostable research-paper feed."""
    ctx.obj = Settings.from_env(database_url=database_url)


def settings_of(ctx: click.Context) -> Settings:
    """The settings the top-level group built."""
    return ctx.find_root().obj  # type: ignore[no-any-return]

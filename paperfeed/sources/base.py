"""The Source protocol: a harvestable upstream yields pages of records and a way to resume."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from paperfeed.errors import UpstreamError
from paperfeed.models import ImportRecord

Window = Mapping[str, str]  # what one run fetches, JSON-able so an interrupted run can resume it


@dataclass
class Page:
    """One upstream page: its records, ids deleted upstream, and the marker to resume after it."""

    records: list[ImportRecord] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    resume: str | None = None  # None when this page ends the run
    total: int | None = None  # records in the whole run, when upstream says (completeListSize)
    errors: list[str] = field(default_factory=list)  # records that could not be parsed
    label: str = ""  # shown in progress, e.g. the day of a daily-papers page


class ResumeExpired(UpstreamError):
    """Upstream no longer accepts the stored resume marker (OAI-PMH badResumptionToken)."""


class Source(Protocol):
    """A harvestable upstream; it fetches and parses but never touches the database."""

    name: str

    def key(self) -> str:
        """The harvest-state key: this source plus the options that select what it fetches."""
        ...

    def plan(self, cursor: str | None, today: date) -> dict[str, str]:
        """The window the next run fetches, from explicit options or the stored cursor."""
        ...

    def pages(self, window: Window, resume: str | None) -> Iterator[Page]:
        """Fetch the window page by page, starting after `resume` when given."""
        ...

    def cursor_after(self, window: Window) -> str | None:
        """The cursor to store once the window was fetched completely (None keeps the old one)."""
        ...

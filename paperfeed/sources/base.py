"""The Source protocol: a harvestable upstream yields pages of records and a way to resume."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from paperfeed.errors import PaperfeedError, UpstreamError
from paperfeed.models import ImportRecord, Paper
from paperfeed.normalize import InvalidRecord, clean_text, valid_record

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


# What a parser may raise on an item of unexpected shape (a number where a list was expected,
# a missing key): the item is reported and skipped, and the rest of its page or file is stored.
ITEM_ERRORS = (
    PaperfeedError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)
REASON_CHARS = 300  # a hostile record's message must not flood a terminal or a run's log


def checked_record(parse: Callable[..., ImportRecord | Paper], *args: Any) -> ImportRecord:
    """Parse one upstream item and clean and check it (normalize.valid_record), or InvalidRecord."""
    try:
        out = parse(*args)
        return valid_record(out if isinstance(out, ImportRecord) else ImportRecord(out))
    except ITEM_ERRORS as exc:
        if isinstance(exc, PaperfeedError | ValueError) and str(exc):
            reason = str(exc)
        else:
            reason = f"unexpected shape ({type(exc).__name__}: {exc})"
        raise InvalidRecord(clean_text(reason)[:REASON_CHARS]) from None


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

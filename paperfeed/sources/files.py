"""Import files: HF daily-papers JSON/JSONL, the arXiv metadata snapshot, and paperfeed's export."""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

from paperfeed.errors import ImportFormatError, InvalidId, PaperfeedError
from paperfeed.models import FeedEntry, ImportRecord, Organization, Paper
from paperfeed.normalize import (
    InvalidRecord,
    clean_abstract,
    clean_text,
    first_version_date,
    parse_arxiv_id,
    parse_paper_id,
    parse_version,
    split_authors,
    split_categories,
)
from paperfeed.sources import hf_daily
from paperfeed.sources.base import checked_record

_DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


@dataclass(slots=True)
class LineError:
    """A record that could not be read: file, line number (None for the whole file) and why."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


def open_text(path: Path) -> IO[str]:
    """Open a file as UTF-8 text, gunzipping it when it starts with the gzip magic bytes."""
    raw = path.open("rb")
    head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    if head == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="replace")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


def detect_format(obj: dict[str, Any]) -> str:
    """Name the format of one JSON record by its keys."""
    if "paper" in obj and isinstance(obj["paper"], dict):
        return "hf-raw"
    if "versions" in obj and "authors_parsed" in obj or "update_date" in obj:
        return "arxiv-snapshot"
    if "paperfeed" in obj:
        return "paperfeed"
    if "listing_dates" in obj:
        return "arxiv-corpus"
    if "date" in obj and "id" in obj and ("upvotes" in obj or "submittedOnDailyAt" in obj):
        return "hf-flat"
    raise ImportFormatError(
        "unrecognised record (expected HF daily papers, arXiv snapshot or paperfeed export JSON)"
    )


def read_file(path: Path) -> Iterator[ImportRecord | LineError]:
    """Stream a file's records; unreadable ones come out as LineError and reading goes on."""
    name = str(path)
    try:
        fh = open_text(path)
    except OSError as exc:
        raise PaperfeedError(f"cannot read {name}: {exc.strerror or exc}") from None
    read = 0
    with fh:
        try:
            for item in _read_open(fh, path, name):
                read += 1
                yield item
        except EOFError:
            # A cut download: the records before the cut were yielded and get stored.
            yield LineError(name, None, f"truncated gzip after {read} records")
        except (zlib.error, gzip.BadGzipFile) as exc:
            yield LineError(name, None, f"corrupt gzip after {read} records ({exc})")
        except OSError as exc:
            yield LineError(name, None, f"read error after {read} records: {exc.strerror or exc}")


def _read_open(fh: IO[str], path: Path, name: str) -> Iterator[ImportRecord | LineError]:
    first = _peek_char(fh)
    if first == "[":
        yield from _read_json_array(fh, name, _day_from_name(path))
        return
    for lineno, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ImportFormatError("expected a JSON object on each line")
            yield checked_record(parse_record, obj)
        except json.JSONDecodeError as exc:
            yield LineError(name, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
        except RecursionError:
            yield LineError(name, lineno, "invalid JSON: nested too deeply")
        except (ImportFormatError, InvalidRecord) as exc:
            yield LineError(name, lineno, str(exc))


def _peek_char(fh: IO[str]) -> str:
    # Skip leading white space without losing the first line of a JSONL file.
    buf = fh.buffer if hasattr(fh, "buffer") else None
    if buf is not None and isinstance(buf, io.BufferedReader):
        head = buf.peek(64).lstrip()
        return chr(head[0]) if head else ""
    pos = fh.tell()
    ch = fh.read(64).lstrip()[:1]
    fh.seek(pos)
    return ch


def _day_from_name(path: Path) -> date | None:
    m = _DAY_IN_NAME.search(path.name)
    try:
        return date.fromisoformat(m.group(1)) if m else None
    except ValueError:
        return None


def _read_json_array(
    fh: IO[str], name: str, day: date | None
) -> Iterator[ImportRecord | LineError]:
    # Raw API day files are one small JSON array (tens of items), so loading it whole is fine.
    try:
        items = json.load(fh)
    except json.JSONDecodeError as exc:
        yield LineError(name, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    except RecursionError:
        yield LineError(name, 1, "invalid JSON: nested too deeply")
        return
    for index, item in enumerate(items, start=1):
        try:
            yield checked_record(hf_daily.parse_item, item, day)
        except InvalidRecord as exc:
            yield LineError(name, index, f"item {index}: {exc}")


def parse_record(obj: dict[str, Any]) -> ImportRecord:
    """Parse one JSON record of any supported format."""
    kind = detect_format(obj)
    if kind in ("hf-raw", "hf-flat"):
        return hf_daily.parse_item(obj)
    if kind == "arxiv-snapshot":
        return parse_snapshot(obj)
    if kind == "arxiv-corpus":
        return parse_corpus(obj)
    return parse_export(obj)


def _rfc2822(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (
        dt.replace(tzinfo=None)
        if dt.tzinfo is None
        else dt.astimezone(tz=None).replace(tzinfo=None)
    )


def _require_id(obj: dict[str, Any]) -> tuple[str, int | None]:
    raw = obj.get("id")
    if not isinstance(raw, str):
        raise ImportFormatError("record has no 'id'")
    try:
        aid = parse_arxiv_id(raw)
    except InvalidId as exc:
        raise ImportFormatError(str(exc)) from None
    return aid.id, aid.version


def parse_snapshot(obj: dict[str, Any]) -> ImportRecord:
    """One line of the arXiv metadata snapshot (the Kaggle JSON-lines dump)."""
    pid, _ = _require_id(obj)
    title = clean_text(obj.get("title"))
    if not title:
        raise ImportFormatError(f"{pid}: record has no title")
    versions = [v for v in obj.get("versions") or [] if isinstance(v, dict)]
    numbers = [parse_version(v.get("version")) or 1 for v in versions]
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        authors = [
            clean_text(
                " ".join(
                    x for x in (a[1] if len(a) > 1 else "", a[0], a[2] if len(a) > 2 else "") if x
                )
            )
            for a in parsed
            if isinstance(a, list) and a
        ]
    else:
        authors = split_authors(obj.get("authors"))
    paper = Paper(
        id=pid,
        title=title,
        abstract=clean_abstract(obj.get("abstract")),
        authors=[a for a in authors if a],
        categories=split_categories(obj.get("categories")),
        version=max(numbers) if numbers else 1,
        published=first_version_date(
            pid, _rfc2822(versions[0].get("created")) if versions else None
        ),
        updated=_rfc2822(versions[-1].get("created")) if versions else None,
        comments=clean_text(obj.get("comments")) or None,
        journal_ref=clean_text(obj.get("journal-ref")) or None,
        doi=clean_text(obj.get("doi")) or None,
        license=clean_text(obj.get("license")) or None,
    )
    return ImportRecord(paper)


def parse_corpus(obj: dict[str, Any]) -> ImportRecord:
    """One record of the daily-listing corpus (id, title, abstract, authors, categories, listing_dates)."""
    pid, version = _require_id(obj)
    paper = Paper(
        id=pid,
        title=clean_text(obj.get("title")),
        abstract=clean_abstract(obj.get("abstract")),
        authors=obj.get("authors") or [],  # checked by normalize.valid_record
        categories=obj.get("categories") or [],
        version=version or parse_version(obj.get("version")) or 1,
        # A listing day says when arXiv announced the paper (new, replaced or cross-listed: the
        # 2019 paper 1911.07240 is listed on 2026-06-23), never when a version was made, so the
        # version dates stay unknown; the id still dates the first version to its month.
        published=None,
        updated=None,
        comments=clean_text(obj.get("comment")) or None,
    )
    if not paper.title:
        raise ImportFormatError(f"{pid}: record has no title")
    return ImportRecord(paper)


def _export_id(obj: dict[str, Any]) -> tuple[str, str]:
    """The id and source of an export line: arXiv ids, and bioRxiv/medRxiv DOIs (bio)."""
    raw = obj.get("id")
    if not isinstance(raw, str):
        raise ImportFormatError("record has no 'id'")
    try:
        pid = parse_paper_id(raw)
    except InvalidId as exc:
        raise ImportFormatError(str(exc)) from None
    source = obj.get("source")
    if pid.source == "arxiv" or source not in ("biorxiv", "medrxiv"):
        source = pid.source  # an arXiv id is arXiv's; a DOI without a valid source: its shape
    return pid.id, str(source)


def parse_export(obj: dict[str, Any]) -> ImportRecord:
    """One line of paperfeed's own JSONL export."""
    pid, source = _export_id(obj)

    def when(key: str) -> datetime | None:
        v = obj.get(key)
        return datetime.fromisoformat(v) if isinstance(v, str) and v else None

    paper = Paper(
        id=pid,
        title=obj.get("title") or "",
        abstract=obj.get("abstract") or "",
        # Raw values: normalize.valid_record checks their types (a string is not a list).
        authors=obj.get("authors") or [],
        categories=obj.get("categories") or [],
        version=int(obj.get("version") or 1),
        published=first_version_date(pid, when("published")),
        updated=when("updated"),
        comments=obj.get("comments"),
        journal_ref=obj.get("journal_ref"),
        doi=obj.get("doi"),
        license=obj.get("license"),
        github_repo=obj.get("github_repo"),
        project_page=obj.get("project_page"),
        ai_summary=obj.get("ai_summary"),
        ai_keywords=obj.get("ai_keywords") or [],
        upvotes=int(obj.get("upvotes") or 0),
        num_comments=int(obj.get("num_comments") or 0),
        organization=_export_org(obj.get("organization")),
        discussion_id=obj.get("discussion_id"),
        thumbnail=obj.get("thumbnail"),
        media_urls=list(obj.get("media_urls") or []),
        source=source,
    )
    if not paper.title:
        raise ImportFormatError(f"{pid}: record has no title")
    entries = [
        FeedEntry(
            pid,
            date.fromisoformat(e["day"]),
            e.get("submitted_by"),
            datetime.fromisoformat(e["submitted_at"]) if e.get("submitted_at") else None,
            e.get("source") or "import",
            submitter_fullname=e.get("submitter_fullname"),
            submitter_avatar=e.get("submitter_avatar"),
            listed_at=datetime.fromisoformat(e["listed_at"]) if e.get("listed_at") else None,
            author_participating=e.get("author_participating"),
        )
        for e in obj.get("feed") or []
    ]
    return ImportRecord(paper, entries)


def _export_org(value: Any) -> Organization | None:
    if not isinstance(value, dict) or not value.get("id") or not value.get("name"):
        return None
    name = str(value["name"])
    return Organization(
        str(value["id"]), name, str(value.get("fullname") or name), value.get("avatar")
    )


def export_record(paper: Paper, entries: list[FeedEntry]) -> dict[str, Any]:
    """The JSON object paperfeed's export writes for one paper."""
    return {
        "paperfeed": 1,
        "id": paper.id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": paper.authors,
        "categories": paper.categories,
        "published": paper.published.isoformat() if paper.published else None,
        "updated": paper.updated.isoformat() if paper.updated else None,
        "comments": paper.comments,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "license": paper.license,
        "github_repo": paper.github_repo,
        "project_page": paper.project_page,
        "ai_summary": paper.ai_summary,
        "ai_keywords": paper.ai_keywords,
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "organization": (
            {
                "id": paper.organization.id,
                "name": paper.organization.name,
                "fullname": paper.organization.fullname,
                "avatar": paper.organization.avatar,
            }
            if paper.organization
            else None
        ),
        "discussion_id": paper.discussion_id,
        "thumbnail": paper.thumbnail,
        "media_urls": paper.media_urls,
        "feed": [
            {
                "day": e.day.isoformat(),
                "submitted_by": e.submitted_by,
                "submitted_at": e.submitted_at.isoformat() if e.submitted_at else None,
                "source": e.source,
                "submitter_fullname": e.submitter_fullname,
                "submitter_avatar": e.submitter_avatar,
                "listed_at": e.listed_at.isoformat() if e.listed_at else None,
                "author_participating": e.author_participating,
            }
            for e in entries
        ],
        # bio: bioRxiv/medRxiv papers say their server (arXiv lines stay as they were).
        **({"source": paper.source} if paper.source != "arxiv" else {}),
    }

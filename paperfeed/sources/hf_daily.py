"""Hugging Face daily papers: parse the API's JSON items (tolerant of 2024–2026 schema drift)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from paperfeed.errors import ImportFormatError
from paperfeed.models import FeedEntry, ImportRecord, Paper, Signal
from paperfeed.normalize import clean_abstract, clean_text, parse_arxiv_id


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO-8601 timestamp such as 2024-05-28T17:47:19.000Z into naive UTC."""
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _name(user: Any) -> str | None:
    if isinstance(user, dict):
        for key in ("name", "user", "fullname"):
            if isinstance(user.get(key), str) and user[key].strip():
                return clean_text(user[key])
    if isinstance(user, str) and user.strip():
        return clean_text(user)
    return None


def _authors(value: Any) -> list[str]:
    out: list[str] = []
    for a in value or []:
        name = a.get("name") if isinstance(a, dict) else a
        if isinstance(name, str) and clean_text(name):
            out.append(clean_text(name))
    return out


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _url(value: Any) -> str | None:
    # Only http(s) links are kept: a javascript: URL must never reach an href.
    if isinstance(value, str) and re.match(r"^https?://\S+$", value.strip()):
        return value.strip()
    return None


def parse_item(item: dict[str, Any], day: date | None = None) -> ImportRecord:
    """One daily-papers item, raw API shape ({paper: {...}, ...}) or flattened JSONL row."""
    if not isinstance(item, dict):
        raise ImportFormatError("expected a JSON object for a daily-papers item")
    paper = item.get("paper") if isinstance(item.get("paper"), dict) else item
    raw_id = paper.get("id")
    if not isinstance(raw_id, str):
        raise ImportFormatError("daily-papers item has no paper id")
    aid = parse_arxiv_id(raw_id)
    title = clean_text(paper.get("title") or item.get("title"))
    if not title:
        raise ImportFormatError(f"daily-papers item {aid.id} has no title")
    featured_at = parse_time(paper.get("submittedOnDailyAt"))
    if day is None and isinstance(item.get("date"), str):
        try:
            day = date.fromisoformat(item["date"])
        except ValueError:
            raise ImportFormatError(f"bad date {item['date']!r} for {aid.id}") from None
    if day is None:
        when = featured_at or parse_time(item.get("publishedAt"))
        day = when.date() if when else None
    keywords = paper.get("ai_keywords") or item.get("ai_keywords") or []
    p = Paper(
        id=aid.id,
        title=title,
        abstract=clean_abstract(paper.get("summary") or item.get("summary")),
        authors=_authors(paper.get("authors") or item.get("authors")),
        version=aid.version or 1,
        published=parse_time(paper.get("publishedAt")),
        github_repo=_url(paper.get("githubRepo") or item.get("githubRepo")),
        project_page=_url(paper.get("projectPage") or item.get("projectPage")),
        ai_summary=clean_text(paper.get("ai_summary") or item.get("ai_summary")) or None,
        ai_keywords=[clean_text(k) for k in keywords if isinstance(k, str) and clean_text(k)],
        upvotes=_int(paper.get("upvotes", item.get("upvotes"))),
        num_comments=_int(item.get("numComments")),
    )
    entries = []
    if day is not None:
        submitter = _name(item.get("submittedBy")) or _name(paper.get("submittedOnDailyBy"))
        entries.append(FeedEntry(p.id, day, submitter, featured_at, source="hf"))
    signals = []
    stars = paper.get("githubStars")
    if isinstance(stars, int) and day is not None:
        observed = featured_at or datetime(day.year, day.month, day.day)
        signals.append(Signal(p.id, "github_stars", float(stars), observed))
    return ImportRecord(p, entries, signals)

"""Hugging Face daily papers: parse the API's JSON items (tolerant of 2024–2026 schema drift)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from paperfeed.errors import ConfigError, ImportFormatError, UpstreamError
from paperfeed.models import FeedEntry, ImportRecord, Organization, Paper, Signal
from paperfeed.normalize import (
    InvalidRecord,
    clean_abstract,
    clean_text,
    first_version_date,
    parse_arxiv_id,
)
from paperfeed.sources.base import Page, Window, checked_record
from paperfeed.sources.http import HttpClient


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
    if value and not isinstance(value, list):
        raise ImportFormatError(f"authors must be a list, not {type(value).__name__}")
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


def _hub_url(value: Any) -> str | None:
    # The Hub writes some avatars as site paths (/avatars/x.svg): make them absolute links.
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        value = "https://huggingface.co" + value
    return _url(value)


def _short(value: Any, limit: int = 255) -> str | None:
    text = clean_text(value) if isinstance(value, str) else ""
    return text[:limit] or None


def _organization(value: Any) -> Organization | None:
    """The Hub's organization object ({_id, name, fullname, avatar}), or None when unusable."""
    if isinstance(value, str) and _short(value):
        # The flattened JSONL keeps only the full name; "~" marks an id that is not the Hub's.
        fullname = _short(value) or ""
        return Organization("~" + fullname[:63], fullname, fullname, None)
    if not isinstance(value, dict):
        return None
    oid, name = _short(value.get("_id"), 64), _short(value.get("name"))
    if not oid or not name:
        return None
    return Organization(
        oid, name, _short(value.get("fullname")) or name, _hub_url(value.get("avatar"))
    )


def _media(value: Any) -> list[str]:
    urls = [_url(v) for v in value] if isinstance(value, list) else []
    return [u for u in urls if u][:20]


def parse_item(item: dict[str, Any], day: date | None = None) -> ImportRecord:
    """One daily-papers item, raw API shape ({paper: {...}, ...}) or flattened JSONL row."""
    if not isinstance(item, dict):
        raise ImportFormatError("expected a JSON object for a daily-papers item")
    paper: dict[str, Any] = item["paper"] if isinstance(item.get("paper"), dict) else item
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
        # The Hub's publishedAt is sometimes the day a paper reached HF, years after its v1.
        published=first_version_date(aid.id, parse_time(paper.get("publishedAt"))),
        github_repo=_url(paper.get("githubRepo") or item.get("githubRepo")),
        project_page=_url(paper.get("projectPage") or item.get("projectPage")),
        ai_summary=clean_text(paper.get("ai_summary") or item.get("ai_summary")) or None,
        ai_keywords=[clean_text(k) for k in keywords if isinstance(k, str) and clean_text(k)],
        upvotes=_int(paper.get("upvotes", item.get("upvotes"))),
        organization=_organization(item.get("organization") or paper.get("organization")),
        discussion_id=_short(paper.get("discussionId") or item.get("discussionId"), 64),
        # Until 2024 the Hub called the social thumbnail mediaUrl; mediaUrls are uploads.
        thumbnail=_url(item.get("thumbnail") or item.get("mediaUrl")),
        media_urls=_media(item.get("mediaUrls") or paper.get("mediaUrls")),
    )
    # A raw item's own publishedAt is when the Hub listed it (huggingface_hub's submitted_at);
    # in a flattened row publishedAt is the paper's, so only the raw shape has one.
    listed_at = parse_time(item.get("publishedAt")) if paper is not item else None
    entries = []
    if day is not None:
        user = item.get("submittedBy") or paper.get("submittedOnDailyBy")
        submitter = _name(item.get("submittedBy")) or _name(paper.get("submittedOnDailyBy"))
        fullname = _short(user.get("fullname")) if isinstance(user, dict) else None
        avatar = _hub_url(user.get("avatarUrl")) if isinstance(user, dict) else None
        participating = item.get("isAuthorParticipating")
        entries.append(
            FeedEntry(
                p.id,
                day,
                submitter,
                featured_at,
                source="hf",
                submitter_fullname=fullname if submitter else None,
                submitter_avatar=avatar if submitter else None,
                listed_at=listed_at or featured_at,
                author_participating=participating if isinstance(participating, bool) else None,
            )
        )
    signals = []
    observed = featured_at or (datetime(day.year, day.month, day.day) if day else None)
    stars = paper.get("githubStars", item.get("githubStars"))
    if isinstance(stars, int) and observed is not None:
        signals.append(Signal(p.id, "github_stars", float(stars), observed))
    # HF's comment count is a signal: numComments on this instance counts comments posted here.
    hf_comments = item.get("numComments")
    if isinstance(hf_comments, int) and hf_comments > 0 and observed is not None:
        signals.append(Signal(p.id, "hf_comments", float(hf_comments), observed))
    return ImportRecord(p, entries, signals)


# --- harvest: the daily-papers API over HTTP ---


def parse_day(content: bytes, day: date, where: str = "daily papers") -> Page:
    """One day's API response as a Page; items that cannot be parsed are reported, not fatal."""
    try:
        items = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise UpstreamError(
            f"{where}: not valid JSON ({exc}); nothing from this day was stored, run again"
        ) from None
    if not isinstance(items, list):
        raise UpstreamError(f"{where}: expected a JSON list of papers, got {type(items).__name__}")
    page = Page(label=day.isoformat())
    for n, item in enumerate(items, start=1):
        try:
            page.records.append(checked_record(parse_item, item, day))
        except InvalidRecord as exc:
            page.errors.append(f"hf {day} item {n}: {exc}")
    return page


def fetch_day(client: HttpClient, base_url: str, day: date) -> Page:
    """GET /api/daily_papers?date=YYYY-MM-DD and parse it."""
    url = base_url.rstrip("/") + "/api/daily_papers"
    # limit=100: the API pages at 50 by default; no day has come near 100 featured papers.
    resp = client.get(url, {"date": day.isoformat(), "limit": 100})
    return parse_day(resp.content, day, where=f"{url}?date={day}")


def _observe_stars_now(page: Page, now: datetime) -> None:
    """Add a star count observed at this hour, so repeated harvests build the series trending needs."""
    # Truncated to the hour: re-running within the hour (or resuming a killed run) adds nothing.
    at = now.astimezone(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    for rec in page.records:
        for sig in list(rec.signals):
            if sig.kind == "github_stars" and sig.observed_at != at:
                rec.signals.append(Signal(sig.paper_id, sig.kind, sig.value, at))


def _as_day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} must be a date like 2026-11-26, not {value!r}") from None


class HfDailySource:
    """Hugging Face daily papers, one page per day from the window's first day to its last."""

    name = "hf"

    def __init__(
        self,
        client: HttpClient,
        base_url: str,
        *,
        from_: str | None = None,
        until: str | None = None,
        backfill_days: int = 3,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.base_url = base_url
        self.from_ = _as_day(from_, "--from/--date")
        self.until = _as_day(until, "--until")
        self.backfill_days = backfill_days
        self.now = now
        if self.from_ and self.until and self.from_ > self.until:
            raise ConfigError(f"--from {self.from_} is after --until {self.until}")

    def key(self) -> str:
        """One cursor for the daily papers."""
        return "hf"

    def plan(self, cursor: str | None, today: date) -> dict[str, str]:
        """Explicit days win; else from the last complete run's last day (upvotes keep changing)."""
        if self.from_:
            start = self.from_
        elif cursor:
            start = date.fromisoformat(cursor)
        else:
            start = today - timedelta(days=self.backfill_days)
        end = max(self.until or today, start)
        return {"from": start.isoformat(), "until": end.isoformat()}

    def cursor_after(self, window: Window) -> str | None:
        """The window's last day."""
        return window["until"]

    def pages(self, window: Window, resume: str | None) -> Iterator[Page]:
        """One request per day; the resume marker is the next day to fetch."""
        day = date.fromisoformat(resume or window["from"])
        last = date.fromisoformat(window["until"])
        total = (last - date.fromisoformat(window["from"])).days + 1
        while day <= last:
            page = fetch_day(self.client, self.base_url, day)
            _observe_stars_now(page, self.now())
            nxt = day + timedelta(days=1)
            page.resume = nxt.isoformat() if nxt <= last else None
            page.total = None
            page.label = f"{day} ({(day - date.fromisoformat(window['from'])).days + 1}/{total})"
            yield page
            day = nxt

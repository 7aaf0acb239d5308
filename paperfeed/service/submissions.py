"""Submitting a paper: the arXiv look-up and the rules a submission must pass."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection

from paperfeed.config import Settings, check_harvest_enabled
from paperfeed.errors import (
    ConfigError,
    Conflict,
    InvalidId,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from paperfeed.models import Paper, User
from paperfeed.normalize import is_doi_id, parse_arxiv_id, parse_paper_id
from paperfeed.service.members import check_confirmed
from paperfeed.store import Database
from paperfeed.store import feed as feed_store
from paperfeed.store import identities as identity_store
from paperfeed.store import papers as paper_store
from paperfeed.store import submissions as submission_store


def now_utc() -> datetime:
    """The current time in UTC, naive (as the store keeps times)."""
    return datetime.now(UTC).replace(tzinfo=None)


def lookup_arxiv(settings: Settings, ids: list[str]) -> list[Paper]:
    """Fetch papers from the arXiv API by id (the only upstream a submission may reach)."""
    from paperfeed.sources.arxiv_api import fetch_ids
    from paperfeed.sources.http import HttpClient

    with HttpClient(settings) as client:
        return list(fetch_ids(client, settings.arxiv_api_url, ids).papers)


def lookup_preprint(settings: Settings, doi: str) -> Paper | None:
    """Fetch a bioRxiv/medRxiv preprint by DOI with every version (the /details DOI look-up)."""
    from paperfeed.sources.biorxiv import fetch_doi
    from paperfeed.sources.http import HttpClient

    with HttpClient(settings) as client:
        page = fetch_doi(client, settings.biorxiv_api_url, doi)
    return page.records[0].paper if page.records else None


def _parse(raw: str) -> str:
    raw = raw.strip()
    if not raw or len(raw) > 300:
        raise InvalidInput("enter an arXiv id such as 2401.01234 or an arxiv.org/abs/ link")
    try:
        return parse_arxiv_id(raw).id  # only parsed: a user-supplied URL is never fetched
    except InvalidId as exc:
        raise InvalidInput(str(exc)) from None


def index(
    db: Database,
    settings: Settings,
    user: User,
    raw: str,
    *,
    lookup: Callable[[Settings, list[str]], list[Paper]] = lookup_arxiv,
) -> tuple[Paper, bool]:
    """Give an arXiv paper its page here without featuring it; (paper, True when newly fetched)."""
    check_confirmed(user)
    pid = _parse(raw)
    with db.read() as conn:
        pid = identity_store.canonical(conn, pid) or pid  # an arXiv record of a bioRxiv paper
        paper = paper_store.get_paper(conn, pid, include_hidden=True)
        hidden = paper is not None and paper_store.get_paper(conn, pid) is None
    if hidden:
        raise PermissionDenied(f"{pid} was hidden by a curator and cannot be indexed")
    if paper is not None:
        return paper, False
    found = [p for p in lookup(settings, [pid]) if p.id == pid]
    if not found:
        raise NotFound(f"arXiv has no paper {pid}: check the id")
    with db.write() as conn:
        paper_store.upsert_papers(conn, [found[0]])
        target = identity_store.canonical(conn, pid) or pid  # it may have joined a bioRxiv paper
        joined = paper_store.get_paper(conn, target) if target != pid else None
    return joined or found[0], True


def _check_rules(
    conn: Connection, settings: Settings, user: User, pid: str, now: datetime
) -> Paper | None:
    """Refuse a paper already submitted, featured or hidden, or a member over the daily cap."""
    paper = paper_store.get_paper(conn, pid, include_hidden=True)
    hidden = paper is not None and paper_store.get_paper(conn, pid) is None
    sub = submission_store.submission_of(conn, pid)
    days = feed_store.days_for(conn, pid)
    today_count = submission_store.count_since(
        conn, user.id, datetime.combine(now.date(), datetime.min.time())
    )
    if sub is not None:
        who = f" by {sub[0]}" if sub[0] else ""
        raise Conflict(f"{pid} was already submitted{who} on {sub[1].isoformat()}")
    if hidden:
        raise PermissionDenied(f"{pid} was hidden by a curator and cannot be submitted")
    if days:
        raise Conflict(f"{pid} was already featured on {days[-1].isoformat()}")
    if not user.is_curator and today_count >= settings.submission_daily_cap:
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
        raise RateLimited(
            f"you have submitted {today_count} papers today, the daily limit of "
            f"{settings.submission_daily_cap}: submit more after 00:00 UTC",
            retry_after=max(1, int((midnight - now).total_seconds())),
        )
    return paper


def _check_age(settings: Settings, paper: Paper, now: datetime) -> None:
    published = paper.published
    if published is None:
        return
    if published.tzinfo is not None:
        published = published.astimezone(UTC).replace(tzinfo=None)
    if now - published > timedelta(days=settings.submission_max_age_days):
        raise InvalidInput(
            f"{paper.id} was first published on {published.date().isoformat()}, more than "
            f"{settings.submission_max_age_days} days ago: only recent papers can be submitted"
        )


def submit(
    db: Database,
    settings: Settings,
    user: User,
    raw: str,
    *,
    now: datetime | None = None,
    lookup: Callable[[Settings, list[str]], list[Paper]] = lookup_arxiv,
    lookup_doi: Callable[[Settings, str], Paper | None] = lookup_preprint,
) -> Paper:
    """Apply the submission rules and feature a paper on today's feed as submitted by the user."""
    check_confirmed(user)
    now = now or now_utc()
    raw = raw.strip()
    if not raw or len(raw) > 300:
        raise InvalidInput("enter an arXiv id such as 2401.01234 or an arxiv.org/abs/ link")
    try:
        pid = parse_paper_id(raw).id  # only parsed: a user-supplied URL is never fetched
    except InvalidId as exc:
        raise InvalidInput(str(exc)) from None
    with db.read() as conn:
        # Another source's id of a stored paper (the bioRxiv DOI an arXiv paper names) is that paper.
        pid = identity_store.canonical(conn, pid) or pid
        paper = _check_rules(conn, settings, user, pid, now)
    fetched = None
    if paper is None and is_doi_id(pid):
        # bio: a bioRxiv/medRxiv DOI is looked up on its server (every version, journal DOI).
        try:
            check_harvest_enabled(settings, "biorxiv", parse_paper_id(raw).source)
        except ConfigError as exc:
            raise InvalidInput(str(exc)) from None
        fetched = paper = lookup_doi(settings, pid)
        if paper is None:
            raise NotFound(f"bioRxiv and medRxiv have no preprint {pid}: check the DOI")
    if paper is None:
        try:  # bio: a biology-only instance looks no arXiv paper up
            check_harvest_enabled(settings, "arxiv-ids")
        except ConfigError as exc:
            raise InvalidInput(str(exc)) from None
        found = [p for p in lookup(settings, [pid]) if p.id == pid]
        if not found:
            raise NotFound(f"arXiv has no paper {pid}: check the id")
        fetched = paper = found[0]
    _check_age(settings, paper, now)
    if fetched is not None:
        with db.write() as conn:  # kept even if the rules below refuse: a harvest would store it
            paper_store.upsert_papers(conn, [fetched])
    with db.write() as conn:
        target = identity_store.canonical(conn, pid) or pid
        if target != pid:
            # The fetched record joined a stored paper of another source (a shared journal DOI):
            # the submission features that paper, so its rules and its age decide.
            joined = _check_rules(conn, settings, user, target, now)
            if joined is not None:
                _check_age(settings, joined, now)
                paper = joined
            pid = target
        submission_store.add_submission(conn, pid, user.id, user.username, day=now.date(), at=now)
    return paper

"""Claiming authorship: claim, confirm, reject, withdraw; ORCID evidence; an author's own links."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from paperfeed.config import Settings
from paperfeed.errors import Conflict, InvalidInput, NotFound, PermissionDenied, UpstreamError
from paperfeed.models import AuthorClaim, Paper, User
from paperfeed.normalize import author_slug
from paperfeed.service.members import check_confirmed, check_curator
from paperfeed.service.papers import member_paper_id
from paperfeed.sources.orcid import WorkIds, arxiv_key, parse_orcid
from paperfeed.store import Database
from paperfeed.store import claims as claim_store
from paperfeed.store import papers as paper_store

LINK_MAX = 500
_SAFE_URL = re.compile(r"https://[^\s<>\"'`]+")


@dataclass(slots=True, frozen=True)
class ClaimResult:
    """A claim as it stands after asking for it, and a sentence saying why."""

    claim: AuthorClaim
    message: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def orcid_works(settings: Settings, orcid: str) -> WorkIds:
    """The external ids of an ORCID iD's public works, through the one polite HTTP client."""
    from paperfeed.sources.http import HttpClient
    from paperfeed.sources.orcid import fetch_works

    with HttpClient(settings) as client:
        return fetch_works(client, settings.orcid_api_url, orcid)


def evidence_for(paper: Paper, works: WorkIds) -> str | None:
    """Which of the paper's ids the works list carries (its arXiv id, its DOI), or None."""
    if arxiv_key(paper.id) in works.arxiv:
        return f"arXiv id {paper.id}"
    if paper.doi and paper.doi.strip().lower() in works.dois:
        return f"DOI {paper.doi}"
    if paper.id.lower() in works.dois:  # a bioRxiv/medRxiv paper is known by its DOI
        return f"DOI {paper.id}"
    return None


def _paper(db: Database, paper_id: str) -> Paper:
    pid = member_paper_id(db, paper_id)
    with db.read() as conn:
        paper = paper_store.get_paper(conn, pid) if pid else None
    if paper is None:
        raise NotFound(f"no paper {paper_id[:100]!r} in this feed")
    return paper


def claim(
    db: Database,
    settings: Settings,
    user: User,
    paper_id: str,
    position: int,
    orcid: str = "",
    *,
    works: Callable[[Settings, str], WorkIds] = orcid_works,
    now: datetime | None = None,
) -> ClaimResult:
    """Claim the author at `position`; confirmed at once when the ORCID iD's works list the paper."""
    check_confirmed(user)
    paper = _paper(db, paper_id)
    if not 0 <= position < len(paper.authors):
        raise InvalidInput(f"{paper.id} lists {len(paper.authors)} authors: pick one of them")
    name = paper.authors[position]
    slug = author_slug(name)
    if not slug:
        raise InvalidInput(f"{name!r} is not an author name and cannot be claimed")
    given = orcid.strip() or (user.orcid_url or "")
    orcid_id = parse_orcid(given) if given else None
    if orcid.strip() and orcid_id is None:
        raise InvalidInput(
            "an ORCID iD is 16 digits in four groups (0000-0002-1825-0097), the last one a "
            "check digit (ISO 7064 11,2) that this one fails: copy it from your ORCID record"
        )
    now = now or _now()
    with db.write() as conn:
        for c in claim_store.claims_on(conn, paper.id):
            if c.user_id == user.id and c.status != "rejected":
                raise Conflict(f"you already claimed {c.name!r} on {paper.id} ({c.status})")
            if c.position == position and c.status == claim_store.CONFIRMED:
                raise Conflict(f"{name!r} on {paper.id} is already confirmed as @{c.username}")
        if claim_store.find_claim(conn, paper.id, position, user.id) is not None:
            raise Conflict(f"{name!r} on {paper.id} was rejected: withdraw it to claim again")
        claim_id = claim_store.add_claim(
            conn,
            paper_id=paper.id,
            position=position,
            user_id=user.id,
            name=name,
            slug=slug,
            orcid=orcid_id,
            at=now,
        )
    if orcid_id is None:
        message = "Your claim waits for a curator; give your ORCID iD to have it checked at once."
        return ClaimResult(_get(db, claim_id), message)
    # The claim is stored first: an ORCID outage leaves it pending, never lost.
    try:
        found = works(settings, orcid_id)
    except UpstreamError as exc:
        message = (
            f"ORCID did not answer for {orcid_id} ({exc}); your claim waits for a curator, "
            "who sees this note"
        )
        with db.write() as conn:
            claim_store.note(conn, claim_id, message)
        return ClaimResult(_get(db, claim_id), message)
    why = evidence_for(paper, found)
    with db.write() as conn:
        if why is None:
            message = (
                f"The {found.works} public works of ORCID iD {orcid_id} do not list this "
                "paper's arXiv id or DOI; your claim waits for a curator"
            )
            claim_store.note(conn, claim_id, message)
        else:
            message = f"Confirmed: the public works of ORCID iD {orcid_id} list this paper's {why}"
            claim_store.decide(conn, claim_id, claim_store.CONFIRMED, at=now, evidence=message)
    return ClaimResult(_get(db, claim_id), message)


def _get(db: Database, claim_id: int) -> AuthorClaim:
    with db.read() as conn:
        c = claim_store.get_claim(conn, claim_id)
    if c is None:
        raise NotFound(f"no claim {claim_id}")
    return c


def confirm(db: Database, user: User, claim_id: int, *, now: datetime | None = None) -> AuthorClaim:
    """A curator confirms a claim."""
    check_curator(check_confirmed(user))
    with db.write() as conn:
        c = claim_store.get_claim(conn, claim_id)
        if c is None:
            raise NotFound(f"no claim {claim_id}")
        for other in claim_store.claims_on(conn, c.paper_id):
            if other.id != c.id and other.position == c.position and other.status == "confirmed":
                raise Conflict(
                    f"{c.name!r} on {c.paper_id} is already confirmed as @{other.username}"
                )
        claim_store.decide(
            conn,
            claim_id,
            claim_store.CONFIRMED,
            at=now or _now(),
            evidence=f"confirmed by curator @{user.username}",
            decided_by=user.id,
        )
    return _get(db, claim_id)


def reject(db: Database, user: User, claim_id: int, *, now: datetime | None = None) -> AuthorClaim:
    """A curator rejects a claim (a confirmed one too, when it proves wrong)."""
    check_curator(check_confirmed(user))
    with db.write() as conn:
        if claim_store.get_claim(conn, claim_id) is None:
            raise NotFound(f"no claim {claim_id}")
        claim_store.decide(
            conn,
            claim_id,
            "rejected",
            at=now or _now(),
            evidence=f"rejected by curator @{user.username}",
            decided_by=user.id,
        )
    return _get(db, claim_id)


def withdraw(db: Database, user: User, claim_id: int) -> AuthorClaim:
    """The claimant takes a claim back, whatever its status."""
    with db.write() as conn:
        c = claim_store.get_claim(conn, claim_id)
        if c is None:
            raise NotFound(f"no claim {claim_id}")
        if c.user_id != user.id:
            raise PermissionDenied("only the member who claimed it can withdraw a claim")
        claim_store.delete_claim(conn, claim_id)
    return c


def queue(db: Database, user: User, *, limit: int = 100) -> list[AuthorClaim]:
    """The claims waiting for a curator, oldest first (curators and admins only)."""
    check_curator(user)
    with db.read() as conn:
        return claim_store.pending(conn, limit=limit)


def claims_of(db: Database, user: User) -> list[AuthorClaim]:
    """The member's own claims, newest first."""
    with db.read() as conn:
        return claim_store.claims_by(conn, user.id)


def claims_on(db: Database, paper_id: str) -> list[AuthorClaim]:
    """Every claim on a paper, by author position."""
    with db.read() as conn:
        return claim_store.claims_on(conn, paper_id)


def claimed_members(db: Database, paper_id: str) -> list[int]:
    """User ids of the paper's confirmed authors (for notifications about their paper)."""
    with db.read() as conn:
        return claim_store.confirmed_members(conn, paper_id)


def author_participating(db: Database, paper_id: str) -> bool:
    """True when a confirmed author commented on their paper here."""
    with db.read() as conn:
        return claim_store.is_participating(conn, paper_id)


def check_link(value: str, field: str, hosts: tuple[str, ...] = ()) -> str | None:
    """An https link for a paper (None when blank); InvalidInput when it is not one."""
    value = value.strip()
    if not value:
        return None
    if len(value) > LINK_MAX or not _SAFE_URL.fullmatch(value):
        raise InvalidInput(f"{field} must be an https:// link of at most {LINK_MAX} characters")
    host = value.split("://", 1)[1].split("/", 1)[0].lower()
    if hosts and host not in hosts:
        raise InvalidInput(f"{field} must be a link to {' or '.join(hosts)}")
    return value


def edit_links(db: Database, user: User, paper_id: str, *, github: str, project: str) -> Paper:
    """A confirmed author (or a curator) sets the paper's GitHub repository and project page."""
    check_confirmed(user)
    paper = _paper(db, paper_id)
    repo = check_link(github, "the GitHub link", ("github.com", "www.github.com"))
    page = check_link(project, "the project page")
    with db.write() as conn:
        if not user.is_curator and user.id not in claim_store.confirmed_members(conn, paper.id):
            raise PermissionDenied("only a confirmed author of this paper can edit its links")
        paper_store.set_links(conn, paper.id, github_repo=repo, project_page=page)
    return _paper(db, paper.id)

"""Claiming authorship pages: the claim form, a member's claims with the curators' queue, links."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed.errors import InvalidInput, NotFound
from paperfeed.service import claims as service
from paperfeed.store import papers as paper_store
from paperfeed.web import forms
from paperfeed.web.context import db_of, path_for, render, settings_of


def _position(text: str | None) -> int:
    if not text or not text.isdigit() or len(text) > 6:
        raise InvalidInput("position must be the author's place in the list, counted from 0")
    return int(text)


def claim_page(request: Request) -> Response:
    """The claim form for one author of one paper (signed-in members)."""
    user = forms.require_user(request)
    paper_id = (request.query_params.get("paper") or "")[:200]
    position = _position(request.query_params.get("position"))
    with db_of(request).read() as conn:
        paper = paper_store.get_paper(conn, paper_id)
    if paper is None:
        raise NotFound(f"no paper {paper_id!r} in this feed")
    if position >= len(paper.authors):
        raise NotFound(f"{paper.id} lists {len(paper.authors)} authors, not {position + 1}")
    context = {"paper": paper, "position": position, "name": paper.authors[position], "me": user}
    return render(request, "claim_new.html", context)


async def claim_post(request: Request) -> Response:
    """Claim an author position; an ORCID iD whose works list the paper confirms it at once."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_claim, request, form)


def _claim(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request)
    forms.limit_write(request, user)  # an ORCID look-up costs an upstream request
    result = service.claim(
        db_of(request),
        settings_of(request),
        user,
        form.get("paper_id", ""),
        _position(form.get("position")),
        form.get("orcid", "")[:100],
    )
    notice = "claim-confirmed" if result.claim.status == "confirmed" else "claim-pending"
    return forms.redirect(path_for(request, "claims"), notice)


def claims_page(request: Request) -> Response:
    """The member's claims, and for curators the queue of claims to confirm or reject."""
    user = forms.require_user(request, verified=False)
    db = db_of(request)
    context = {
        "mine": service.claims_of(db, user),
        "queue": service.queue(db, user) if user.is_curator else None,
    }
    return render(request, "claims.html", context)


async def claim_action(request: Request, claim_id: int) -> Response:
    """Confirm or reject (curators) or withdraw (the claimant) a claim."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_action, request, claim_id, form.get("action", ""))


def _action(request: Request, claim_id: int, action: str) -> Response:
    user = forms.require_user(request)
    db = db_of(request)
    if action == "confirm":
        service.confirm(db, user, claim_id)
    elif action == "reject":
        service.reject(db, user, claim_id)
    elif action == "withdraw":
        service.withdraw(db, user, claim_id)
        return forms.redirect(path_for(request, "claims"), "claim-withdrawn")
    else:
        raise InvalidInput("action must be confirm, reject or withdraw")
    return forms.redirect(path_for(request, "claims"), "claim-decided")


async def links_post(request: Request) -> Response:
    """A confirmed author saves their paper's GitHub and project links."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_links, request, form)


def _links(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request)
    forms.limit_write(request, user)
    paper = service.edit_links(
        db_of(request),
        user,
        form.get("paper_id", ""),
        github=form.get("github_repo", ""),
        project=form.get("project_page", ""),
    )
    return forms.redirect(path_for(request, "paper", arxiv_id=paper.id), "links-saved")

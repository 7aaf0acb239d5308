"""Submission pages: the form and its post, which feature a paper on today's feed."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited
from paperfeed.service import submissions as service
from paperfeed.web import auth, forms
from paperfeed.web.context import db_of, path_for, settings_of


def submit_page(request: Request) -> Response:
    """The submission form."""
    if auth.current_user(request) is None:
        return forms.redirect(f"/login?next={quote('/submit')}")
    return forms.form_page(request, "submit.html", {"settings_rules": settings_of(request)})


async def submit(request: Request) -> Response:
    """Submit a paper by arXiv id or URL."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_submit, request, form)


def _submit(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request)
    forms.limit_write(request, user)
    try:
        paper = service.submit(db_of(request), settings_of(request), user, form.get("paper", ""))
    except (InvalidInput, Conflict, NotFound, PermissionDenied, RateLimited) as exc:
        if forms.accepts_json(request):
            raise
        status = {
            InvalidInput: 400,
            Conflict: 409,
            NotFound: 404,
            PermissionDenied: 403,
            RateLimited: 429,
        }[type(exc)]
        return forms.form_page(
            request,
            "submit.html",
            {
                "error": str(exc),
                "value": form.get("paper", ""),
                "settings_rules": settings_of(request),
            },
            status=status,
        )
    if forms.accepts_json(request):
        return JSONResponse({"id": paper.id, "title": paper.title}, status_code=201)
    return forms.redirect(path_for(request, "paper", arxiv_id=paper.id), "submitted")

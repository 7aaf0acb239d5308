"""The curator's buttons: feature, un-feature, hide or show a paper."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed.service import curation as service
from paperfeed.service.submissions import now_utc
from paperfeed.web import forms
from paperfeed.web.context import db_of, path_for


async def curate(request: Request) -> Response:
    """Curators feature, un-feature, hide or show a paper."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_curate, request, form)


def _curate(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request)
    action = form.get("action", "")
    pid = service.curate(
        db_of(request), user, form.get("paper_id", ""), action, today=now_utc().date()
    )
    back = path_for(request, "paper", arxiv_id=pid) if action != "hide" else "/"
    return forms.redirect(back, "curated")

"""The upvote button: add or take back a member's upvote."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed.service import votes as service
from paperfeed.web import auth, forms
from paperfeed.web.context import db_of


async def vote(request: Request) -> Response:
    """Upvote or remove an upvote (form post; JSON when the script asks for it)."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_vote, request, form)


def _vote(request: Request, form: dict[str, str]) -> Response:
    user = auth.current_user(request)
    pid = form.get("paper_id", "")
    back = forms.safe_next(form.get("next"), "/")
    if user is None:
        if forms.accepts_json(request):
            return JSONResponse({"error": "sign in to vote", "login": "/login"}, status_code=401)
        return forms.redirect(f"/login?next={quote(back)}")
    user = forms.require_user(request)
    forms.limit_write(request, user)
    got = service.vote(db_of(request), user, pid, form.get("action", "up"))
    if forms.accepts_json(request):
        return JSONResponse({"id": got.paper_id, "upvotes": got.upvotes, "voted": got.voted})
    return forms.redirect(back)

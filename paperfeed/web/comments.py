"""Comment pages: add, edit and delete comments, their JSON twin and the linkify filter."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from paperfeed.models import Comment, User
from paperfeed.service import comments as service
from paperfeed.web import forms
from paperfeed.web.api import iso
from paperfeed.web.context import db_of, path_for, settings_of

_LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def linkify(text: str) -> Markup:
    """Plain text as HTML: everything escaped, http(s) URLs turned into nofollow links."""
    out: list[str] = []
    pos = 0
    for m in _LINK.finditer(text):
        url = m.group(0)
        cut = len(url)
        while cut and url[cut - 1] in _TRAILING:
            cut -= 1
        url = url[:cut]
        if len(url) <= len("https://"):
            continue
        out.append(html.escape(text[pos : m.start()]))
        esc = html.escape(url, quote=True)
        out.append(f'<a href="{esc}" rel="nofollow ugc noopener">{esc}</a>')
        pos = m.start() + cut
    out.append(html.escape(text[pos:]))
    return Markup("".join(out).replace("\n", "<br>\n"))


async def comment_add(request: Request) -> Response:
    """Add a comment to a paper."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_comment_add, request, form)


def _comment_add(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request)
    forms.limit_write(request, user)
    c = service.add(
        db_of(request), settings_of(request), user, form.get("paper_id", ""), form.get("body", "")
    )
    if forms.accepts_json(request):
        return JSONResponse(comment_json(c), status_code=201)
    return forms.redirect(
        path_for(request, "paper", arxiv_id=c.paper_id) + f"?notice=comment-saved#comment-{c.id}"
    )


def _own_comment(request: Request, comment_id: int) -> tuple[User, Comment]:
    user = forms.require_user(request)
    return user, service.own(db_of(request), user, comment_id)


def comment_edit_page(request: Request, comment_id: int) -> Response:
    """The form to edit one's comment."""
    _, c = _own_comment(request, comment_id)
    return forms.form_page(request, "comment_edit.html", {"comment": c})


async def comment_edit(request: Request, comment_id: int) -> Response:
    """Save an edited comment."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_comment_edit, request, comment_id, form)


def _comment_edit(request: Request, comment_id: int, form: dict[str, str]) -> Response:
    user, c = _own_comment(request, comment_id)
    forms.limit_write(request, user)
    service.edit(db_of(request), settings_of(request), user, c, form.get("body", ""))
    return forms.redirect(
        path_for(request, "paper", arxiv_id=c.paper_id) + f"?notice=comment-saved#comment-{c.id}"
    )


async def comment_delete(request: Request, comment_id: int) -> Response:
    """Delete a comment (author or curator)."""
    await forms.post_form(request)
    return await run_in_threadpool(_comment_delete, request, comment_id)


def _comment_delete(request: Request, comment_id: int) -> Response:
    c = service.delete(db_of(request), forms.require_user(request), comment_id)
    return forms.redirect(path_for(request, "paper", arxiv_id=c.paper_id), "comment-deleted")


def comment_json(c: Comment) -> dict[str, Any]:
    """A comment for the JSON API."""
    return {
        "id": c.id,
        "paperId": c.paper_id,
        "author": {"user": c.author_username, "fullname": c.author_name},
        "text": "" if c.deleted_at else c.body,
        "createdAt": iso(c.created_at),
        "editedAt": iso(c.edited_at),
        "deleted": c.deleted_at is not None,
    }


def api_comments(request: Request, arxiv_id: str) -> JSONResponse:
    """A paper's comments, oldest first."""
    return JSONResponse([comment_json(c) for c in service.list_for(db_of(request), arxiv_id)])

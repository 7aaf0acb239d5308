"""The JSON API of what a member does (submit, upvote, comment, library), for tokens and pages' scripts."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from paperfeed.errors import InvalidInput, NotFound, Unauthorized
from paperfeed.models import User
from paperfeed.service import comments, library, papers, submissions, tokens, votes
from paperfeed.service import follows as follow_service
from paperfeed.store.library import Collection
from paperfeed.web import auth, forms
from paperfeed.web.api_models import (
    CollectionIn,
    CommentIn,
    FollowIn,
    IndexIn,
    PaperIn,
    SaveIn,
    SubmitIn,
    UnsaveIn,
)
from paperfeed.web.comments import comment_json
from paperfeed.web.context import db_of, settings_of

SIGN_IN = (
    "sign in, or send Authorization: Bearer <token> (create a token on the account settings page)"
)


def member(request: Request, *, write: bool) -> User:
    """The acting member: a token's (of a scope that allows it) or a session's (with CSRF on writes)."""
    principal = auth.current_principal(request)
    if principal is not None:
        tokens.require_scope(principal, "write" if write else "read")
        return principal.user
    user = auth.current_user(request)
    if user is None:
        raise Unauthorized(SIGN_IN)
    if write:  # a cookie rides along on any site's request: the page's script sends the header
        auth.check_csrf(request, request.headers.get(auth.CSRF_HEADER))
    return user


def _paper(raw: str) -> str:
    """The canonical id of the paper a request names; NotFound when it names none."""
    # A string that is no paper id names no paper: 404, as GET /api/papers/{id} answers.
    pid = papers.named_id(raw.strip())
    if not pid:
        raise NotFound(
            f"no paper {raw[:100]!r}: send an arXiv id such as 2401.01234 or an arxiv.org/abs/ link"
        )
    return pid


def _writer(request: Request) -> User:
    user = member(request, write=True)
    forms.limit_write(request, user)
    return user


def _collection_json(c: Collection) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "size": c.size, "created_at": c.created_at.isoformat()}


# --- who am I, my library ---------------------------------------------------------------------


def me(request: Request) -> JSONResponse:
    """The acting member, and the token's id and scope for a bearer request."""
    user = member(request, write=False)
    principal = auth.current_principal(request)
    token = {"id": principal.token_id, "scope": principal.scope} if principal else None
    return JSONResponse(
        {
            "id": user.id,
            "user": user.username,
            "fullname": user.display_name,
            "role": user.role,
            "verified": user.verified,
            "token": token,
        }
    )


def my_library(request: Request) -> JSONResponse:
    """Every collection of the member with its paper ids, and the papers marked not interested."""
    got = library.library_ids(db_of(request), member(request, write=False))
    return JSONResponse(
        {
            "collections": [{**_collection_json(c), "papers": ids} for c, ids in got.collections],
            "hidden": got.hidden,
        }
    )


# --- submissions ------------------------------------------------------------------------------


def submit(request: Request, body: SubmitIn) -> JSONResponse:
    """Feature a paper on today's feed under the submission rules, with an optional first comment."""
    user = _writer(request)
    db, settings = db_of(request), settings_of(request)
    text = body.comment.strip() if body.comment else ""
    if text:
        comments.check_body(settings, text)  # refused before the paper is featured
    paper = submissions.submit(db, settings, user, _paper(body.paperId))
    posted = comments.add(db, settings, user, paper.id, text) if text else None
    answer = {"id": paper.id, "title": paper.title}
    return JSONResponse(
        {**answer, "comment": comment_json(posted) if posted else None}, status_code=201
    )


def index(request: Request, body: IndexIn) -> JSONResponse:
    """Fetch an arXiv paper and give it a page here, without featuring it."""
    user = _writer(request)
    paper, created = submissions.index(
        db_of(request), settings_of(request), user, _paper(body.arxivId)
    )
    return JSONResponse(
        {"id": paper.id, "title": paper.title, "created": created},
        status_code=201 if created else 200,
    )


# --- votes ------------------------------------------------------------------------------------


def _vote(request: Request, arxiv_id: str, action: str) -> JSONResponse:
    user = _writer(request)
    got = votes.vote(db_of(request), user, _paper(arxiv_id), action)
    return JSONResponse({"id": got.paper_id, "upvotes": got.upvotes, "voted": got.voted})


def upvote(request: Request, arxiv_id: str) -> JSONResponse:
    """Upvote a paper (a repeat changes nothing)."""
    return _vote(request, arxiv_id, "up")


def remove_upvote(request: Request, arxiv_id: str) -> JSONResponse:
    """Take the member's upvote back."""
    return _vote(request, arxiv_id, "remove")


# --- comments ---------------------------------------------------------------------------------


def comment_add(request: Request, arxiv_id: str, body: CommentIn) -> JSONResponse:
    """Comment on a paper."""
    user = _writer(request)
    c = comments.add(db_of(request), settings_of(request), user, _paper(arxiv_id), body.text)
    return JSONResponse(comment_json(c), status_code=201)


def comment_edit(request: Request, comment_id: int, body: CommentIn) -> JSONResponse:
    """Replace the text of the member's comment (any comment, for a curator)."""
    user = _writer(request)
    db = db_of(request)
    c = comments.own(db, user, comment_id)
    comments.edit(db, settings_of(request), user, c, body.text)
    return JSONResponse(comment_json(comments.own(db, user, comment_id)))


def comment_delete(request: Request, comment_id: int) -> JSONResponse:
    """Delete the member's comment (any comment, for a curator)."""
    c = comments.delete(db_of(request), _writer(request), comment_id)
    return JSONResponse({"id": c.id, "deleted": True})


# --- library ----------------------------------------------------------------------------------


def _saved(got: library.Saved) -> JSONResponse:
    return JSONResponse({"id": got.paper_id, "added": got.added, "collections": got.collections})


def save(request: Request, body: SaveIn) -> JSONResponse:
    """Save a paper into collections, a new one, or the default one."""
    user = _writer(request)
    return _saved(
        library.save(
            db_of(request), user, _paper(body.paperId), body.collections, body.newCollection
        )
    )


def unsave(request: Request, body: UnsaveIn) -> JSONResponse:
    """Take a paper out of one collection, or out of the whole library."""
    user = _writer(request)
    pid, n = library.unsave(db_of(request), user, _paper(body.paperId), body.collectionId)
    return JSONResponse({"id": pid, "removed": n})


def _hide(request: Request, paper: str, *, undo: bool) -> JSONResponse:
    user = _writer(request)
    pid = library.hide(db_of(request), user, _paper(paper), undo=undo)
    return JSONResponse({"id": pid, "hidden": not undo})


def hide(request: Request, body: PaperIn) -> JSONResponse:
    """Keep a paper out of the member's recommendations."""
    return _hide(request, body.paperId, undo=False)


def unhide(request: Request, body: PaperIn) -> JSONResponse:
    """Let a hidden paper back into the member's recommendations."""
    return _hide(request, body.paperId, undo=True)


def collection_create(request: Request, body: CollectionIn) -> JSONResponse:
    """Create an empty collection."""
    col = library.create_collection(db_of(request), _writer(request), body.name)
    return JSONResponse(_collection_json(col), status_code=201)


def collection_add(request: Request, collection: str, body: PaperIn) -> JSONResponse:
    """Add a paper to one of the member's collections (by id or name)."""
    user = _writer(request)
    col = library.collection(db_of(request), user, collection)
    return _saved(library.save(db_of(request), user, _paper(body.paperId), [col.id]))


def collection_remove(request: Request, collection: str, arxiv_id: str) -> JSONResponse:
    """Take a paper out of one of the member's collections."""
    user = _writer(request)
    col = library.collection(db_of(request), user, collection)
    pid, n = library.unsave(db_of(request), user, _paper(arxiv_id), col.id)
    return JSONResponse({"id": pid, "removed": n})


def collection_delete(request: Request, collection: str) -> JSONResponse:
    """Delete one of the member's collections (its papers stay in any other)."""
    user = _writer(request)
    col = library.collection(db_of(request), user, collection)
    library.delete_collection(db_of(request), user, str(col.id))
    return JSONResponse({"id": col.id, "deleted": True})


# --- follows ----------------------------------------------------------------------------------

ROW_ID_MAX = 2**53 - 1  # as api_models.RowId: a larger id names no row


def my_follows(request: Request) -> JSONResponse:
    """Everything the member follows, by kind then label."""
    got = follow_service.list_for(db_of(request), member(request, write=False))
    return JSONResponse([follow_service.as_json(f) for f in got])


def follow_create(request: Request, body: FollowIn) -> JSONResponse:
    """Follow something that exists here (201), or get the member's existing follow of it (200)."""
    user = _writer(request)
    db = db_of(request)
    try:
        resolved = follow_service.resolve(db, user, body.kind, body.target, body.mode)
    except InvalidInput as exc:
        # A well-formed request whose target names nothing followable: no such thing (404),
        # as a string that is no paper id is elsewhere in this API.
        raise NotFound(str(exc)) from None
    f, created = follow_service.follow(
        db, settings_of(request), user, body.kind, body.target, body.mode, resolved=resolved
    )
    return JSONResponse(follow_service.as_json(f), status_code=201 if created else 200)


def follow_delete(request: Request, follow_id: int) -> JSONResponse:
    """Stop following; 404 when the follow is not the member's."""
    user = _writer(request)
    if follow_id > ROW_ID_MAX:
        raise NotFound("you do not follow that (any more)")
    follow_service.unfollow(db_of(request), user, follow_id)
    return JSONResponse({"id": follow_id, "deleted": True})

"""Commenting on a paper: adding, editing and deleting (author or curator)."""

from __future__ import annotations

from paperfeed.config import Settings
from paperfeed.errors import InvalidInput, NotFound, PermissionDenied
from paperfeed.models import Comment, User
from paperfeed.service import notifications
from paperfeed.service.members import check_confirmed
from paperfeed.service.papers import member_paper_id
from paperfeed.store import Database
from paperfeed.store import comments as comment_store
from paperfeed.store import papers as paper_store


def check_body(settings: Settings, body: str) -> str:
    """A comment's text, trimmed, if it is neither empty nor over comment_max_chars."""
    body = body.replace("\r\n", "\n").strip()
    limit = settings.comment_max_chars
    if not body:
        raise InvalidInput("the comment is empty")
    if len(body) > limit:
        raise InvalidInput(
            f"the comment has {len(body):,} characters; the limit is {limit:,}: shorten it"
        )
    return body


def add(db: Database, settings: Settings, user: User, paper_id: str, body: str) -> Comment:
    """Add the member's comment to a paper."""
    check_confirmed(user)
    pid = member_paper_id(db, paper_id)
    if not pid:
        raise InvalidInput("no such paper to comment on")
    body = check_body(settings, body)
    with db.write() as conn:
        comment = comment_store.add_comment(conn, pid, user.id, body)
        paper = paper_store.get_paper(conn, pid)
        notifications.for_comment(conn, comment, paper.title if paper else pid)
        return comment


def own(db: Database, user: User, comment_id: int) -> Comment:
    """A live comment the member may change: their own, or any for a curator."""
    check_confirmed(user)
    with db.read() as conn:
        c = comment_store.get_comment(conn, comment_id)
    if c is None or c.deleted_at is not None:
        raise NotFound("no such comment (it may have been deleted)")
    if c.user_id != user.id and not user.is_curator:
        raise PermissionDenied("only the author or a curator can change this comment")
    return c


def edit(db: Database, settings: Settings, user: User, comment: Comment, body: str) -> None:
    """Replace the text of a comment the member may change (from `own`)."""
    body = check_body(settings, body)
    with db.write() as conn:
        comment_store.edit_comment(conn, comment.id, body)


def delete(db: Database, user: User, comment_id: int) -> Comment:
    """Delete a comment the member may change; returns it as it was."""
    c = own(db, user, comment_id)
    with db.write() as conn:
        comment_store.delete_comment(conn, comment_id)
    return c


def list_for(db: Database, paper_id: str) -> list[Comment]:
    """A listed paper's comments, oldest first (NotFound for an unknown or hidden paper)."""
    pid = member_paper_id(db, paper_id)
    if not pid:
        raise NotFound(f"no paper {paper_id[:100]!r} in this feed")
    with db.read() as conn:
        if paper_store.get_paper(conn, pid) is None:
            raise NotFound(f"no paper {pid} in this feed")
        return comment_store.list_comments(conn, pid)

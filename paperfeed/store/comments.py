"""Comments on papers: plain text, editable, and soft-deleted so threads keep their shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.errors import NotFound
from paperfeed.models import Comment
from paperfeed.store.schema import comments, papers, users


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _comment(row: Any) -> Comment:
    return Comment(
        id=row.id,
        paper_id=row.paper_id,
        user_id=row.user_id,
        body=row.body,
        created_at=row.created_at,
        author_name=row.display_name,
        author_username=row.username,
        edited_at=row.edited_at,
        deleted_at=row.deleted_at,
    )


def _select() -> sa.Select[Any]:
    return sa.select(comments, users.c.display_name, users.c.username).join(
        users, users.c.id == comments.c.user_id
    )


def add_comment(conn: Connection, paper_id: str, user_id: int, body: str) -> Comment:
    """Add a comment to a visible paper and count it on the paper."""
    hidden = conn.execute(sa.select(papers.c.hidden).where(papers.c.id == paper_id)).first()
    if hidden is None or hidden[0]:
        raise NotFound(f"paper {paper_id} does not exist or is hidden: it cannot be commented on")
    cid = conn.execute(
        comments.insert()
        .values(paper_id=paper_id, user_id=user_id, body=body, created_at=_now())
        .returning(comments.c.id)
    ).scalar_one()
    conn.execute(
        sa.update(papers)
        .where(papers.c.id == paper_id)
        .values(num_comments=papers.c.num_comments + 1)
    )
    got = get_comment(conn, int(cid))
    assert got is not None
    return got


def get_comment(conn: Connection, comment_id: int) -> Comment | None:
    """One comment (deleted ones too), or None."""
    row = conn.execute(_select().where(comments.c.id == comment_id)).first()
    return _comment(row) if row else None


def list_comments(conn: Connection, paper_id: str, *, limit: int = 500) -> list[Comment]:
    """A paper's comments, oldest first, deleted ones included as placeholders."""
    q = (
        _select()
        .where(comments.c.paper_id == paper_id)
        .order_by(comments.c.created_at, comments.c.id)
        .limit(limit)
    )
    return [_comment(r) for r in conn.execute(q)]


def edit_comment(conn: Connection, comment_id: int, body: str) -> bool:
    """Replace a live comment's text; False when it does not exist or was deleted."""
    res = conn.execute(
        sa.update(comments)
        .where(comments.c.id == comment_id, comments.c.deleted_at.is_(None))
        .values(body=body, edited_at=_now())
    )
    return bool(res.rowcount)


def delete_comment(conn: Connection, comment_id: int) -> bool:
    """Soft-delete a comment: its text is erased and the paper's count goes down."""
    row = conn.execute(
        sa.update(comments)
        .where(comments.c.id == comment_id, comments.c.deleted_at.is_(None))
        .values(body="", deleted_at=_now())
        .returning(comments.c.paper_id)
    ).first()
    if row is None:
        return False
    conn.execute(
        sa.update(papers)
        .where(papers.c.id == row.paper_id, papers.c.num_comments > 0)
        .values(num_comments=papers.c.num_comments - 1)
    )
    return True

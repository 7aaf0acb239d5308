"""Compact answers for agents: a paper in a few fields, a page of them with how to get the next."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from paperfeed.config import Settings
from paperfeed.models import Paper

SUMMARY_CHARS = 240  # one line an agent can skim; get_paper gives the whole abstract
MAX_LIMIT = 50  # papers per page: enough to choose from, small enough not to flood a context
_SENTENCE = re.compile(r"(?<=[.!?])\s")


def paper_url(settings: Settings, paper_id: str) -> str:
    """The paper's page on this instance (the web route /papers/{id}, ids kept opaque)."""
    return f"{settings.base_url.rstrip('/')}/papers/{quote(paper_id, safe='/:')}"


def one_line(paper: Paper) -> str:
    """The paper in one line: its AI summary or the first sentence of its abstract, shortened."""
    text = " ".join((paper.ai_summary or paper.abstract or "").split())
    if not paper.ai_summary:
        text = _SENTENCE.split(text, maxsplit=1)[0]
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1].rstrip() + "…"


def brief(settings: Settings, paper: Paper, **extra: Any) -> dict[str, Any]:
    """A paper as an agent's list shows it: id, title, one line, date, upvotes, links."""
    out: dict[str, Any] = {
        "id": paper.id,
        "title": " ".join(paper.title.split()),
        "summary": one_line(paper),
        "published": paper.published.date().isoformat() if paper.published else None,
        "upvotes": paper.upvotes,
        "url": paper_url(settings, paper.id),
        "markdown": f"paperfeed://papers/{paper.id}.md",
    }
    out.update(extra)
    return out


def page(
    items: list[dict[str, Any]], *, total: int, page: int, limit: int, **extra: Any
) -> dict[str, Any]:
    """A page of results with the total and the next page's number (None on the last page)."""
    more = (page + 1) * limit < total
    return {
        **extra,
        "total": total,
        "page": page,
        "next_page": page + 1 if more else None,
        "papers": items,
    }

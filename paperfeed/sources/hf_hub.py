"""Hugging Face Hub repos citing a paper: the models, datasets and Spaces listings with filter=arxiv:<id>."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from paperfeed.errors import UpstreamError
from paperfeed.normalize import clean_text
from paperfeed.sources.http import HttpClient

KINDS = ("model", "dataset", "space")
_LISTING = {"model": "models", "dataset": "datasets", "space": "spaces"}
PAGE_SIZE = 100  # the Hub's listings page with a Link header; 100 keeps each answer small
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}(?:/[\w.\-]{1,96})?$")
# What a page or an API answer shows of a repo; the rest of the Hub's item is not kept.
_TEXT_FIELDS = ("pipeline_tag", "library_name", "sdk", "createdAt", "lastModified")


@dataclass(slots=True)
class Citing:
    """Repos of one kind citing a paper: the first `keep`, the count seen, and whether it is all."""

    kind: str
    repos: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    complete: bool = True


def repo_url(hub_url: str, kind: str, repo_id: str) -> str:
    """The Hub page of a repo: /<id> for models, /datasets/<id>, /spaces/<id>."""
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[kind]
    return f"{hub_url.rstrip('/')}/{prefix}{repo_id}"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def parse_item(item: Any) -> dict[str, Any] | None:
    """One listing item reduced to the fields paperfeed keeps, or None when it is not a public repo."""
    if not isinstance(item, dict):
        return None
    repo_id = item.get("id") or item.get("modelId")
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
        return None
    if item.get("private") is True:
        return None
    out: dict[str, Any] = {
        "id": repo_id,
        "author": repo_id.split("/", 1)[0] if "/" in repo_id else None,
        "likes": _count(item.get("likes")),
        "downloads": _count(item.get("downloads")),
        "private": False,
    }
    for key in _TEXT_FIELDS:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            out[key] = clean_text(value)[:64]
    return out


def parse_listing(content: bytes, where: str) -> list[dict[str, Any]]:
    """A listing page as reduced items; items that are not public repos are skipped."""
    try:
        items = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise UpstreamError(f"{where}: not valid JSON ({exc}); nothing was stored") from None
    if not isinstance(items, list):
        raise UpstreamError(f"{where}: expected a JSON list of repos, got {type(items).__name__}")
    return [r for r in (parse_item(i) for i in items) if r is not None]


def fetch_citing(
    client: HttpClient, base_url: str, paper_id: str, kind: str, *, keep: int, max_pages: int
) -> Citing:
    """Repos of one kind whose card cites the paper, most liked first, following at most max_pages pages."""
    url: str | None = f"{base_url.rstrip('/')}/api/{_LISTING[kind]}"
    params: dict[str, Any] | None = {
        "filter": f"arxiv:{paper_id}",
        "sort": "likes",
        "direction": "-1",
        "limit": PAGE_SIZE,
    }
    host = urlsplit(base_url).netloc
    out = Citing(kind)
    seen: set[str] = set()
    pages = 0
    while url is not None:
        if pages >= max_pages:
            out.complete = False  # more pages exist than we read: total is a lower bound
            break
        resp = client.get(url, params)
        pages += 1
        for repo in parse_listing(resp.content, f"{url} ({kind}s citing {paper_id})"):
            if repo["id"] in seen:
                continue
            seen.add(repo["id"])
            out.total += 1
            if len(out.repos) < keep:
                out.repos.append(repo)
        nxt = resp.links.get("next", {}).get("url")
        # Only follow pages on the configured host: a Link header is upstream-controlled.
        url = nxt if nxt and urlsplit(nxt).netloc == host else None
        params = None  # the next link carries the cursor and the filter
    return out

"""ORCID public API v3.0: check an iD and read the external ids (DOI, arXiv) of its public works."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from paperfeed.errors import UpstreamError
from paperfeed.sources.http import HttpClient

_ORCID = re.compile(r"^(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])$")
# arXiv's own DOIs name the arXiv id: 10.48550/arXiv.2405.18407
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
_ARXIV_PREFIX = re.compile(r"^(?:arxiv:|https?://arxiv\.org/abs/)", re.IGNORECASE)
_VERSION = re.compile(r"v\d+$")


def checksum_ok(digits: str) -> bool:
    """True when the 16th character is the ISO 7064 MOD 11-2 check digit of the first 15."""
    total = 0
    for ch in digits[:15]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return digits[15] == ("X" if check == 10 else str(check))


def parse_orcid(text: str) -> str | None:
    """The iD as 0000-0002-1825-0097 from a bare iD or an orcid.org URL; None when invalid."""
    raw = (text or "").strip()
    for prefix in ("https://orcid.org/", "http://orcid.org/", "orcid.org/"):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix) :]
    m = _ORCID.match(raw.upper())
    if m is None:
        return None
    digits = "".join(m.groups())
    return "-".join(m.groups()) if checksum_ok(digits) else None


@dataclass(slots=True)
class WorkIds:
    """The external ids of an iD's public works, normalized for comparison."""

    dois: set[str] = field(default_factory=set)  # lower-cased, no https://doi.org/
    arxiv: set[str] = field(default_factory=set)  # lower-cased arXiv ids without version
    works: int = 0


def _doi(value: str) -> str:
    v = value.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if v.startswith(prefix):
            v = v[len(prefix) :]
    return v


def arxiv_key(value: str) -> str:
    """An arXiv id as works lists and the store compare it: lower case, no prefix or version."""
    v = _ARXIV_PREFIX.sub("", value.strip()).lower()
    return _VERSION.sub("", v)


def _ids_of(node: Any) -> list[dict[str, Any]]:
    ext = (node or {}).get("external-ids") or {}
    items = ext.get("external-id") or []
    return [i for i in items if isinstance(i, dict)]


def parse_works(payload: Any) -> WorkIds:
    """The DOIs and arXiv ids of a /v3.0/{orcid}/works answer (groups and their summaries)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("group"), list):
        raise UpstreamError("the ORCID works answer has no 'group' list: not a v3.0 works record")
    out = WorkIds()
    for group in payload["group"]:
        if not isinstance(group, dict):
            continue
        out.works += 1
        nodes = [group, *[s for s in group.get("work-summary") or [] if isinstance(s, dict)]]
        for node in nodes:
            for item in _ids_of(node):
                kind = str(item.get("external-id-type") or "").lower()
                normalized = item.get("external-id-normalized") or {}
                value = str(normalized.get("value") or item.get("external-id-value") or "")
                if not value:
                    continue
                if kind == "doi":
                    doi = _doi(value)
                    out.dois.add(doi)
                    m = _ARXIV_DOI.match(doi)
                    if m:
                        out.arxiv.add(arxiv_key(m.group(1)))
                elif kind == "arxiv":
                    out.arxiv.add(arxiv_key(value))
    return out


def fetch_works(client: HttpClient, base_url: str, orcid: str) -> WorkIds:
    """GET {base_url}/v3.0/{orcid}/works as JSON and parse it; UpstreamError when it fails."""
    url = f"{base_url.rstrip('/')}/v3.0/{orcid}/works"
    resp = client.get(url, headers={"Accept": "application/json"})
    try:
        payload = json.loads(resp.text)
    except ValueError:
        raise UpstreamError(
            f"{url} did not answer JSON (got {resp.headers.get('content-type')})"
        ) from None
    return parse_works(payload)

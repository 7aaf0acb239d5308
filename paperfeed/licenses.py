"""Which paper licences let this instance show a paper's full text on its own pages."""

from __future__ import annotations

import re

# Licences allowing redistribution with attribution, commercial use included: CC BY, CC BY-SA,
# CC0 and the public-domain mark. NC and ND variants and arXiv's own non-exclusive licence do not.
_URL = re.compile(
    r"creativecommons\.org/(?:licenses/(?P<kind>[a-z-]+)/|publicdomain/(?P<pd>zero|mark)/)",
    re.IGNORECASE,
)
_OPEN_KINDS = {"by", "by-sa"}
_NAMES = re.compile(r"^\s*(?:cc[\s_-]*(?P<kind>by(?:[\s_-]*sa)?|0|zero)|public[\s_-]*domain)\b")


def allows_full_text(license: str | None) -> bool:
    """True for CC BY, CC BY-SA, CC0 and public domain (as a URL or a name like 'CC BY 4.0')."""
    if not license:
        return False
    text = license.strip().lower()
    m = _URL.search(text)
    if m:
        return bool(m.group("pd")) or m.group("kind") in _OPEN_KINDS
    m = _NAMES.match(text)
    if not m:
        return False
    rest = text[m.end() :]
    # "cc by-nc 4.0" and bioRxiv's "cc_by_nd" start like CC BY but forbid what matters here.
    return not re.match(r"[\s_-]*(?:nc|nd)\b", rest)

"""bioRxiv and medRxiv: the api.biorxiv.org interval listing and DOI look-ups, parsed into records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from paperfeed.errors import ConfigError, InvalidId, UpstreamError
from paperfeed.models import FeedEntry, ImportRecord, Paper
from paperfeed.normalize import (
    InvalidRecord,
    clean_abstract,
    clean_text,
    parse_paper_id,
    preprint_category,
)
from paperfeed.sources.base import Page, Window, checked_record
from paperfeed.sources.http import HttpClient

SERVERS = ("biorxiv", "medrxiv")

# The subject areas each server lists (biorxiv.org and medrxiv.org "Subject Areas"), as the
# browsable categories `preprint_category` makes of the API's free text.
SUBJECTS = {
    "biorxiv": (
        "animal behavior and cognition",
        "biochemistry",
        "bioengineering",
        "bioinformatics",
        "biophysics",
        "cancer biology",
        "cell biology",
        "clinical trials",
        "developmental biology",
        "ecology",
        "epidemiology",
        "evolutionary biology",
        "genetics",
        "genomics",
        "immunology",
        "microbiology",
        "molecular biology",
        "neuroscience",
        "paleontology",
        "pathology",
        "pharmacology and toxicology",
        "physiology",
        "plant biology",
        "scientific communication and education",
        "synthetic biology",
        "systems biology",
        "zoology",
    ),
    "medrxiv": (
        "addiction medicine",
        "allergy and immunology",
        "anesthesia",
        "cardiovascular medicine",
        "dentistry and oral medicine",
        "dermatology",
        "emergency medicine",
        "endocrinology",
        "epidemiology",
        "forensic medicine",
        "gastroenterology",
        "genetic and genomic medicine",
        "geriatric medicine",
        "health economics",
        "health informatics",
        "health policy",
        "health systems and quality improvement",
        "hematology",
        "hiv aids",
        "infectious diseases",
        "intensive care and critical care medicine",
        "medical education",
        "medical ethics",
        "nephrology",
        "neurology",
        "nursing",
        "nutrition",
        "obstetrics and gynecology",
        "occupational and environmental health",
        "oncology",
        "ophthalmology",
        "orthopedics",
        "otolaryngology",
        "pain medicine",
        "palliative medicine",
        "pathology",
        "pediatrics",
        "pharmacology and therapeutics",
        "primary care research",
        "psychiatry and clinical psychology",
        "public and global health",
        "radiology and imaging",
        "rehabilitation medicine and physical therapy",
        "respiratory medicine",
        "rheumatology",
        "sexual and reproductive health",
        "sports medicine",
        "surgery",
        "toxicology",
        "transplantation",
        "urology",
    ),
}

# Creative Commons codes the API gives, as the licence URLs arXiv records carry; cc_no (no
# reuse without permission) has no URL and is kept as its code, an empty one as unknown.
LICENSES = {
    "cc_by": "https://creativecommons.org/licenses/by/4.0/",
    "cc_by_nc": "https://creativecommons.org/licenses/by-nc/4.0/",
    "cc_by_nd": "https://creativecommons.org/licenses/by-nd/4.0/",
    "cc_by_nc_nd": "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    "cc0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "cc0_ng": "https://creativecommons.org/publicdomain/zero/1.0/",
}


def categories_of(server: str) -> list[tuple[str, str]]:
    """A server's browsable categories as (category, label) pairs, e.g. biorxiv.genetics."""
    return [(preprint_category(server, s) or "", s.capitalize()) for s in SUBJECTS[server]]


def split_preprint_authors(text: str | None) -> list[str]:
    """Split the API's 'Surname, I.; Surname, I.' author string into 'I. Surname' names."""
    names = []
    for part in (clean_text(text or "")).split(";"):
        surname, _, given = (p.strip() for p in part.partition(","))
        name = f"{given} {surname}".strip() if given else surname
        if name:
            names.append(name)
    return names


def _license(code: Any) -> str | None:
    if not isinstance(code, str) or not code.strip():
        return None
    code = code.strip().lower()
    return LICENSES.get(code, code)


def _date(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} is missing")
    try:
        return datetime.fromisoformat(value.strip()[:10])
    except ValueError:
        raise InvalidRecord(f"{field} {value[:20]!r} is not a date") from None


def _version(value: Any) -> int:
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isdigit():
        raise InvalidRecord(f"version {str(value)[:20]!r} is not a number")
    return int(text)


def _server(item: dict[str, Any], default: str) -> str:
    name = item.get("server")
    name = name.strip().lower() if isinstance(name, str) else ""
    return name if name in SERVERS else default


def parse_versions(items: list[dict[str, Any]], default_server: str) -> ImportRecord:
    """One paper from the items the API lists for its DOI (one per version), newest version winning."""
    if not items or not all(isinstance(i, dict) for i in items):
        raise InvalidRecord("item is not a JSON object")
    doi = items[0].get("doi")
    if not isinstance(doi, str):
        raise InvalidRecord("item has no doi")
    pid = parse_paper_id(doi)
    if pid.source == "arxiv":
        raise InvalidRecord(f"doi {doi[:40]!r} is not a bioRxiv/medRxiv DOI")
    dated = sorted(
        ((_version(i.get("version")), _date(i.get("date"), "date"), i) for i in items),
        key=lambda t: t[:2],
    )
    version, updated, latest = dated[-1]
    first = next((when for v, when, _ in dated if v == 1), None)
    server = _server(latest, default_server)
    published = latest.get("published")
    journal = (
        published.strip() if isinstance(published, str) and published.strip() != "NA" else None
    )
    category = preprint_category(server, latest.get("category"))
    title = latest.get("title")
    paper = Paper(
        id=pid.id,
        source=server,
        title=title if isinstance(title, str) else "",
        abstract=clean_abstract(
            latest.get("abstract") if isinstance(latest.get("abstract"), str) else ""
        ),
        authors=split_preprint_authors(
            latest.get("authors") if isinstance(latest.get("authors"), str) else None
        ),
        categories=[category] if category else [],
        version=version,
        published=first,
        updated=updated,
        doi=journal,
        license=_license(latest.get("license")),
    )
    # The paper is listed on the day its earliest version in this answer was posted.
    entry = FeedEntry(pid.id, dated[0][1].date(), source=server)
    return ImportRecord(paper, [entry])


def parse_details(content: bytes, server: str, where: str) -> tuple[Page, int, int | None]:
    """One /details answer as a Page, with the count of items it announces and the total."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise UpstreamError(
            f"{where}: not valid JSON ({exc}); nothing from this page was stored and the "
            "harvest cursor did not move, run the harvest again"
        ) from None
    messages = data.get("messages") if isinstance(data, dict) else None
    message = messages[0] if isinstance(messages, list) and messages else None
    if not isinstance(message, dict):
        raise UpstreamError(
            f"{where}: not a bioRxiv API answer (no messages); check PAPERFEED_BIORXIV_API_URL"
        )
    status = str(message.get("status", "")).strip().lower()
    if status == "no posts found":
        return Page(), 0, 0
    if status != "ok":
        raise UpstreamError(f"{where}: the API answered status {status[:80]!r}")
    items = data.get("collection")
    if not isinstance(items, list):
        raise UpstreamError(f"{where}: the answer has no collection list")
    count = _int(message.get("count"), len(items))
    total = _int(message.get("total"), None)
    if count != len(items):
        raise UpstreamError(
            f"{where}: truncated answer ({len(items)} of the {count} items it announces); "
            "nothing from this page was stored and the harvest cursor did not move, run it again"
        )
    page = Page()
    by_doi: dict[str, list[dict[str, Any]]] = {}
    for n, item in enumerate(items, start=1):
        doi = item.get("doi") if isinstance(item, dict) else None
        key = doi.strip().lower() if isinstance(doi, str) and doi.strip() else f"#{n}"
        by_doi.setdefault(key, []).append(item)
    for key, group in by_doi.items():
        try:
            page.records.append(checked_record(parse_versions, group, server))
        except (InvalidId, InvalidRecord) as exc:
            page.errors.append(f"{where} item {key[:60]}: {exc}")
    page.total = total
    return page, count, total


def _int(value: Any, default: int | None) -> int | None:
    # `total` and `count_new_papers` arrive as strings, `count` and `cursor` as numbers.
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return default


def lookup_doi(client: HttpClient, base_url: str, server: str, doi: str) -> Page:
    """GET /details/{server}/{doi}: every version of one preprint, as a one-record Page."""
    pid = parse_paper_id(doi)
    url = f"{base_url.rstrip('/')}/details/{server}/{pid.id}"
    page, _, _ = parse_details(client.get(url).content, server, url)
    return page


def fetch_doi(client: HttpClient, base_url: str, doi: str) -> Page:
    """Every version of one preprint by DOI or link, asking the other server when the first has none."""
    pid = parse_paper_id(doi)
    if pid.source not in SERVERS:
        raise InvalidId(f"{doi[:60]!r} is an arXiv id, not a bioRxiv/medRxiv DOI")
    page = Page()
    # The server a bare DOI's shape suggests first; old-style DOIs may be on either.
    for server in (pid.source, *(s for s in SERVERS if s != pid.source)):
        page = lookup_doi(client, base_url, server, pid.id)
        page.records = [r for r in page.records if r.paper.id == pid.id]
        if page.records or page.errors:
            break
    if not page.records and not page.errors:
        page.errors.append(f"{pid.id}: not found on bioRxiv or medRxiv")
    return page


class BiorxivDoisSource:
    """DOI look-ups (/details/{server}/{doi}), one page per DOI: backfill and submissions."""

    name = "biorxiv-dois"

    def __init__(self, client: HttpClient, base_url: str, *, dois: tuple[str, ...] = ()) -> None:
        if not dois:
            raise ConfigError("give at least one DOI to look up, e.g. 10.1101/2021.09.30.462652")
        self.client = client
        self.base_url = base_url
        ids = []
        for d in dois:
            pid = parse_paper_id(d)
            if pid.source not in SERVERS:
                raise ConfigError(f"--doi {d!r} is an arXiv id: use `paperfeed harvest ids`")
            ids.append(pid.id)
        self.dois = list(dict.fromkeys(ids))

    def key(self) -> str:
        """Look-ups have no cursor of their own; runs are still recorded under this name."""
        return "biorxiv-dois"

    def plan(self, cursor: str | None, today: date) -> dict[str, str]:
        """The window is the DOI list itself."""
        return {"ids": ",".join(self.dois)}

    def cursor_after(self, window: Window) -> str | None:
        """DOI look-ups leave no cursor."""
        return None

    def pages(self, window: Window, resume: str | None) -> Iterator[Page]:
        """One page per DOI; the resume marker is the index of the next DOI."""
        dois = window["ids"].split(",")
        for i in range(int(resume or 0), len(dois)):
            page = fetch_doi(self.client, self.base_url, dois[i])
            page.resume = str(i + 1) if i + 1 < len(dois) else None
            page.total = len(dois)
            page.label = f"doi {i + 1}/{len(dois)}"
            yield page


def _as_day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} must be a date like 2026-11-26, not {value!r}") from None


class BiorxivSource:
    """The interval listing of one server, cursor by cursor, from the window's first day to its last."""

    name = "biorxiv"

    def __init__(
        self,
        client: HttpClient,
        base_url: str,
        *,
        server: str = "biorxiv",
        from_: str | None = None,
        to: str | None = None,
        category: str | None = None,
        backfill_days: int = 3,
    ) -> None:
        if server not in SERVERS:
            raise ConfigError(f"unknown server {server!r}: use one of {', '.join(SERVERS)}")
        self.client = client
        self.base_url = base_url
        self.server = server
        self.from_ = _as_day(from_, "--from")
        self.to = _as_day(to, "--to")
        # The API's category filter takes the subject with underscores ("cell_biology").
        self.category = "_".join(clean_text(category or "").lower().split()) or None
        self.backfill_days = backfill_days
        if self.from_ and self.to and self.from_ > self.to:
            raise ConfigError(f"--from {self.from_} is after --to {self.to}")

    def key(self) -> str:
        """One cursor per server and category."""
        return f"{self.server}:{self.category}" if self.category else self.server

    def plan(self, cursor: str | None, today: date) -> dict[str, str]:
        """Explicit days win; else from the last complete run's last day (late posts arrive)."""
        if self.from_:
            start = self.from_
        elif cursor:
            start = date.fromisoformat(cursor)
        else:
            start = today - timedelta(days=self.backfill_days)
        end = max(self.to or today, start)
        return {"from": start.isoformat(), "to": end.isoformat()}

    def cursor_after(self, window: Window) -> str | None:
        """The window's last day."""
        return window["to"]

    def pages(self, window: Window, resume: str | None) -> Iterator[Page]:
        """Follow the API's cursor to the end; the resume marker is the next cursor to fetch."""
        cursor = int(resume or 0)
        base = f"{self.base_url.rstrip('/')}/details/{self.server}/{window['from']}/{window['to']}"
        while True:
            url = f"{base}/{cursor}"
            resp = self.client.get(url, {"category": self.category})
            page, count, total = parse_details(resp.content, self.server, url)
            nxt = cursor + count
            page.resume = str(nxt) if count and total is not None and nxt < total else None
            page.label = f"{self.server} {window['from']}..{window['to']} {nxt}/{total or nxt}"
            yield page
            if page.resume is None:
                return
            cursor = nxt

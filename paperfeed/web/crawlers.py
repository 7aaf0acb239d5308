"""What search engines are told: robots.txt from the URL table, and the sitemap of days and papers."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from lxml import etree
from starlette.responses import PlainTextResponse, Response

from paperfeed.errors import NotFound
from paperfeed.service import sitemap as sitemap_service
from paperfeed.web.context import db_of, path_for, settings_of

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
XML_TYPE = "application/xml; charset=utf-8"
# Crawlers come back for the sitemap on their own schedule; an hour spares the database.
CACHE = {"Cache-Control": "public, max-age=3600"}


def robots_txt(request: Request) -> Response:
    """robots.txt: public pages open, every other route closed, or the whole site closed."""
    settings = settings_of(request)
    lines = ["User-agent: *"]
    if settings.crawlers == "deny":
        lines.append("Disallow: /")
    else:
        root = request.scope.get("root_path", "")
        lines += [f"Disallow: {root}{rule}" for rule in request.app.state.robots_rules]
        lines += ["", f"Sitemap: {_absolute(request, path_for(request, 'sitemap'))}"]
    return PlainTextResponse("\n".join(lines) + "\n", headers=CACHE)


def sitemap_index(request: Request) -> Response:
    """The sitemap index: the feed days, then one part of paper pages per month (or slice)."""
    _open(request)
    found = sitemap_service.sitemap(db_of(request))
    entries = [(path_for(request, "sitemap_days"), found.days_lastmod)]
    entries += [(path_for(request, "sitemap_papers", part=p.name), p.lastmod) for p in found.parts]
    return _document(request, "sitemapindex", "sitemap", entries)


def sitemap_days(request: Request) -> Response:
    """Every feed day page, with when one of its papers last changed."""
    _open(request)
    days = sitemap_service.sitemap(db_of(request)).days
    entries = [(path_for(request, "papers_day", day=d.day.isoformat()), d.lastmod) for d in days]
    return _document(request, "urlset", "url", entries)


def sitemap_papers(request: Request, part: str) -> Response:
    """The paper pages of one part: the papers featured in a month (or a slice of it)."""
    _open(request)
    found = sitemap_service.part_papers(db_of(request), part)
    entries = [(path_for(request, "paper", arxiv_id=pid), changed) for pid, changed in found]
    return _document(request, "urlset", "url", entries)


def _open(request: Request) -> None:
    if settings_of(request).crawlers == "deny":
        raise NotFound("this site asks search engines not to index it (PAPERFEED_CRAWLERS=deny)")


def _absolute(request: Request, path: str) -> str:
    return settings_of(request).base_url.rstrip("/") + path


def _document(
    request: Request, root: str, child: str, entries: list[tuple[str, datetime | None]]
) -> Response:
    doc = etree.Element(f"{{{SITEMAP_NS}}}{root}", nsmap={None: SITEMAP_NS})
    for path, changed in entries:
        item = etree.SubElement(doc, f"{{{SITEMAP_NS}}}{child}")
        etree.SubElement(item, f"{{{SITEMAP_NS}}}loc").text = _absolute(request, path)
        if changed is not None:
            # W3C Datetime; the store keeps naive UTC.
            stamp = changed.replace(tzinfo=UTC).isoformat(timespec="seconds")
            etree.SubElement(item, f"{{{SITEMAP_NS}}}lastmod").text = stamp
    body = etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
    return Response(body, media_type=XML_TYPE, headers=CACHE)

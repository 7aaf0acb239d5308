"""arXiv's HTML rendering (LaTeXML output) parsed into sections, safe HTML and references."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import lxml.html
from lxml import etree

from paperfeed.errors import InvalidId
from paperfeed.models import FullText, Reference, TextSection
from paperfeed.normalize import parse_arxiv_id, strip_invalid

# LaTeXML's own number for each heading level; paragraphs (ltx_paragraph) are the deepest.
_LEVELS = {
    "ltx_chapter": 1,
    "ltx_section": 1,
    "ltx_appendix": 1,
    "ltx_subsection": 2,
    "ltx_subsubsection": 3,
    "ltx_paragraph": 4,
    "ltx_subparagraph": 5,
}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Presentation MathML kept as is; the Content MathML and TeX annotations LaTeXML adds are dropped
# (they double a page's size and carry xref ids that would collide across a page).
_MATHML = {
    "math", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "mfrac", "msqrt", "mroot",
    "mstyle", "merror", "mpadded", "mphantom", "menclose", "msub", "msup", "msubsup", "munder",
    "mover", "munderover", "mmultiscripts", "mprescripts", "none", "mtable", "mtr", "mtd",
}  # fmt: skip
_MATH_ATTRS = {
    "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "form",
    "largeop", "movablelimits", "accent", "accentunder", "symmetric", "minsize", "maxsize",
    "linethickness", "columnalign", "rowalign", "columnspan", "rowspan", "notation", "width",
    "height", "depth", "scriptlevel", "displaystyle", "alttext",
}  # fmt: skip
_INLINE_SAME = {"em", "i", "b", "strong", "sub", "sup", "code", "small"}
_ARXIV_TEXT = re.compile(
    r"arXiv[:\s]\s*(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z.-]*/\d{7}(?:v\d+)?)", re.IGNORECASE
)
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)")
_SPACE = re.compile(r"\s+")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def _classes(el: Any) -> set[str]:
    return set((el.get("class") or "").split())


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _skipped(el: Any) -> bool:
    cls = _classes(el)
    # Error spans are LaTeX that LaTeXML could not convert; notes are footnote bodies whose marks
    # would otherwise splice their whole text into a sentence.
    return bool(cls & {"ltx_ERROR", "ltx_note", "ltx_note_outer", "ltx_rdf"}) or _local(el.tag) in {
        "script",
        "style",
        "button",
        "img",
        "svg",
        "object",
        "embed",
        "iframe",
        "form",
    }


def _math_html(el: Any) -> str:
    """A <math> element rebuilt from presentation MathML elements and attributes only."""
    tag = _local(el.tag)
    if not isinstance(el.tag, str) or _skipped(el):
        return ""
    if tag == "semantics":
        kids = [k for k in el if _local(k.tag) not in {"annotation", "annotation-xml"}]
        inner = "".join(_math_html(k) for k in kids)
        return f"<mrow>{inner}</mrow>" if len(kids) != 1 else inner
    if tag not in _MATHML:
        return html.escape(_squash(el.text_content() or ""))
    attrs = "".join(
        f' {k}="{html.escape(v, quote=True)}"'
        for k, v in sorted(el.attrib.items())
        if k in _MATH_ATTRS and not (tag != "math" and k in {"display", "alttext"})
    )
    inner = html.escape(el.text or "") if len(el) == 0 else ""
    if len(el):
        inner = html.escape(el.text or "").strip() + "".join(
            _math_html(k) + html.escape((k.tail or "").strip()) for k in el
        )
    return f"<{tag}{attrs}>{inner}</{tag}>"


def _math_text(el: Any) -> str:
    alt = el.get("alttext")
    return f"${_squash(alt)}$" if alt else _squash(el.text_content() or "")


def _safe_href(href: str | None) -> str | None:
    if not href:
        return None
    parts = urlsplit(href.strip())
    return href.strip() if parts.scheme in {"http", "https"} and parts.netloc else None


def _inline(el: Any) -> tuple[str, str]:
    """An element's content as (safe HTML, plain text), children and their tails included."""
    out_html: list[str] = [html.escape(el.text or "")]
    out_text: list[str] = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):
            pass  # comments and processing instructions
        elif _skipped(child):
            pass
        else:
            h, t = _element_inline(child)
            out_html.append(h)
            out_text.append(t)
        out_html.append(html.escape(child.tail or ""))
        out_text.append(child.tail or "")
    return "".join(out_html), "".join(out_text)


def _element_inline(el: Any) -> tuple[str, str]:
    tag = _local(el.tag)
    if tag == "math":
        return _math_html(el), _math_text(el)
    if tag == "br":
        return " ", " "
    h, t = _inline(el)
    if tag in _INLINE_SAME:
        tag = {"i": "em", "b": "strong"}.get(tag, tag)
        return f"<{tag}>{h}</{tag}>", t
    if tag == "a":
        href = _safe_href(el.get("href"))
        if href:
            return f'<a href="{html.escape(href, quote=True)}" rel="nofollow noopener">{h}</a>', t
    return h, t


def _blocks(el: Any, out_html: list[str], out_text: list[str]) -> None:
    """Append the block content of el (paragraphs, equations, lists, captions), skipping sections."""
    for child in el:
        if not isinstance(child.tag, str) or _skipped(child):
            continue
        tag, cls = _local(child.tag), _classes(child)
        if tag == "section" or tag in _HEADINGS or cls & {"ltx_bibliography", "ltx_abstract"}:
            continue  # subsections are their own section; the abstract is stored already
        if tag == "figure" or cls & {"ltx_figure", "ltx_table", "ltx_float"}:
            caps = child.xpath(".//*[local-name()='figcaption']")
            if caps:
                h, t = _inline(caps[0])
                if _squash(t):
                    out_html.append(f'<p class="ft-caption">{_squash_html(h)}</p>')
                    out_text.append(_squash(t))
            continue
        if cls & {"ltx_equation", "ltx_equationgroup"}:
            maths = child.xpath(".//*[local-name()='math']")
            if maths:
                # A wide display equation scrolls sideways: tabindex lets keyboards scroll it too.
                eq = " ".join(_math_html(m) for m in maths)
                out_html.append(f'<p class="ft-equation" tabindex="0">{eq}</p>')
                out_text.append(" ".join(_math_text(m) for m in maths))
            continue
        if tag in {"ul", "ol"}:
            items_h, items_t = [], []
            for li in child.xpath("./*[local-name()='li']"):
                h, t = _inline_blocks(li)
                if t:
                    items_h.append(f"<li>{h}</li>")
                    items_t.append(f"- {t}")
            if items_h:
                out_html.append(f"<{tag}>{''.join(items_h)}</{tag}>")
                out_text.append("\n".join(items_t))
            continue
        if tag == "p" or "ltx_listing" in cls:
            h, t = _inline(child)
            if _squash(t):
                wrap = "pre" if "ltx_listing" in cls else "p"
                out_html.append(f"<{wrap}>{_squash_html(h) if wrap == 'p' else h.strip()}</{wrap}>")
                out_text.append(_squash(t))
            continue
        _blocks(child, out_html, out_text)


def _inline_blocks(el: Any) -> tuple[str, str]:
    """A list item's paragraphs joined into one line of HTML and text."""
    hs: list[str] = []
    ts: list[str] = []
    _blocks(el, hs, ts)
    if not hs:
        h, t = _inline(el)
        return _squash_html(h), _squash(t)
    inner = " ".join(re.sub(r"^<p>|</p>$", "", h) for h in hs)
    return inner, " ".join(ts)


def _squash_html(h: str) -> str:
    return _SPACE.sub(" ", h).strip()


def _heading(sec: Any) -> tuple[str, str]:
    """(number, title) of a section element's own heading."""
    heads = [k for k in sec if isinstance(k.tag, str) and _local(k.tag) in _HEADINGS]
    if not heads:
        return "", ""
    head = heads[0]
    number = ""
    tags = head.xpath(".//*[contains(concat(' ', @class, ' '), ' ltx_tag ')]")
    if tags:
        number = _squash(tags[0].text_content()).rstrip(".")
        # "Appendix A" is the tag of an appendix: the letter is its number.
        number = number.removeprefix("Appendix ").strip()
    parts: list[str] = [head.text or ""]
    for k in head:
        if isinstance(k.tag, str) and not _skipped(k) and k not in tags:
            parts.append(_element_inline(k)[1])
        parts.append(k.tail or "")
    return number, _squash("".join(parts))


def _sections(root: Any) -> Iterator[TextSection]:
    for sec in root.iter("section", "{http://www.w3.org/1999/xhtml}section"):
        cls = _classes(sec)
        level = next((lvl for name, lvl in _LEVELS.items() if name in cls), None)
        if level is None:
            continue
        number, title = _heading(sec)
        hs: list[str] = []
        ts: list[str] = []
        _blocks(sec, hs, ts)
        yield TextSection(
            anchor=sec.get("id") or "",
            number=number,
            title=title or (number and f"Section {number}") or "Untitled section",
            level=level,
            html="\n".join(hs),
            text="\n\n".join(ts),
        )


def _arxiv_in(text: str) -> str | None:
    try:
        return parse_arxiv_id(text).id
    except InvalidId:
        return None


def _reference(position: int, item: Any) -> Reference:
    blocks = item.xpath(".//*[contains(concat(' ', @class, ' '), ' ltx_bibblock ')]")
    text = _squash(" ".join(_inline(b)[1] for b in blocks) if blocks else _inline(item)[1])
    arxiv_id = doi = url = None
    for a in item.xpath(".//a[@href]"):
        href = unquote(a.get("href") or "")
        arxiv_id = arxiv_id or (
            _arxiv_in(href) if re.search(r"arxiv\.org/(abs|pdf)/", href) else None
        )
        m = _DOI.search(href)
        if m and not doi and ("doi" in href.lower()):
            doi = m.group(1)
        if url is None and _safe_href(href) and "arxiv.org" not in href and "doi.org" not in href:
            url = _safe_href(href)
    if arxiv_id is None:
        m = _ARXIV_TEXT.search(text)
        if m:
            arxiv_id = _arxiv_in(m.group("id"))
    if doi is None:
        m = _DOI.search(text)
        if m:
            doi = m.group(1)
    if doi:
        doi = doi.rstrip(".,;)")
    return Reference(position, text, arxiv_id, doi, url)


def _title(root: Any) -> str:
    heads = root.xpath("//*[contains(concat(' ', @class, ' '), ' ltx_title_document ')]")
    if heads:
        return _squash(_inline(heads[0])[1])
    return ""


def _decoded(content: bytes | str) -> str:
    """The page as text: UTF-8 (what LaTeXML writes, often without saying so), minus bad code points."""
    if isinstance(content, str):
        text = content
    else:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = content.decode("cp1252", errors="replace")
    # lxml refuses text that still declares its encoding; what stored text may not hold goes too.
    return strip_invalid(_XML_DECL.sub("", text, count=1))


def parse(content: bytes | str) -> FullText | None:
    """Parse a LaTeXML page; None when it holds no paper (a failed conversion, an empty page)."""
    text = _decoded(content)
    if not text.strip():
        return None
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None
    doc = root.xpath("//*[contains(concat(' ', @class, ' '), ' ltx_document ')]")
    if not doc:
        return None
    article = doc[0]
    title = _title(article)
    sections = [s for s in _sections(article) if s.text or s.level == 1]
    if not sections and title:
        # A paper without \section: its paragraphs as one section.
        hs: list[str] = []
        ts: list[str] = []
        _blocks(article, hs, ts)
        if ts:
            sections = [TextSection("", "", "Text", 1, "\n".join(hs), "\n\n".join(ts))]
    bib = article.xpath(".//*[contains(concat(' ', @class, ' '), ' ltx_bibliography ')]")
    refs: list[Reference] = []
    if bib:
        items = bib[0].xpath(".//li[contains(concat(' ', @class, ' '), ' ltx_bibitem ')]")
        refs = [_reference(i, it) for i, it in enumerate(items, 1)]
    if not sections and not refs:
        return None  # arXiv 2026's failed conversions: "Untitled Document", only error spans
    return FullText(title=title, sections=sections, references=refs)


def html_url(base: str, paper_id: str, version: int | None = None) -> str:
    """Where arXiv serves a paper's HTML (the latest version unless one is given)."""
    return f"{base.rstrip('/')}/{paper_id}" + (f"v{version}" if version else "")

"""Render paper text with LaTeX math as safe HTML: math becomes MathML, everything else is escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from xml.etree.ElementTree import Element

from latex2mathml.converter import convert_to_element
from markupsafe import Markup, escape

# $$…$$ and \[…\] are display math; \(…\) and $…$ inline. A single $ needs a closing $ before
# the next blank line, so a stray "costs $5" stays text. \$ is a literal dollar, never a delimiter.
_MATH_RE = re.compile(
    r"\$\$(?P<dd>.+?)\$\$"
    r"|\\\[(?P<db>.+?)\\\]"
    r"|\\\((?P<ip>.+?)\\\)"
    r"|(?<!\\)\$(?P<id>(?:\\.|[^$\\\n]|\n(?!\s*\n))+?)\$",
    re.DOTALL,
)
# latex2mathml is fast on normal formulas but a 2 kB "formula" is almost surely a mismatched $.
_MAX_MATH = 2000

# Presentation MathML elements latex2mathml emits; anything else rejects the fragment.
_TAGS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mover munder "
    "munderover mtable mtr mtd mlabeledtr mstyle mpadded mphantom menclose merror "
    "mmultiscripts mprescripts none semantics annotation".split()
)
# Attributes that only affect layout; href, style, class, id and event handlers are dropped.
_ATTRS = frozenset(
    "display mathvariant stretchy fence separator form accent accentunder width height depth "
    "lspace rspace voffset linethickness columnalign columnspacing columnlines rowalign "
    "rowspacing rowlines frame framespacing equalrows equalcolumns displaystyle scriptlevel "
    "movablelimits largeop symmetric minsize maxsize notation mathcolor mathbackground "
    "columnspan rowspan".split()
)


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of text: plain text, or LaTeX source of inline or display math."""

    kind: str  # "text", "inline" or "display"
    source: str
    raw: str  # the original characters including delimiters


def split_math(text: str) -> Iterator[Piece]:
    """Split text into plain runs and math fragments, in order."""
    pos = 0
    for m in _MATH_RE.finditer(text):
        if m.start() > pos:
            yield Piece("text", text[pos : m.start()], text[pos : m.start()])
        display = m.group("dd") is not None or m.group("db") is not None
        body = m.group("dd") or m.group("db") or m.group("ip") or m.group("id") or ""
        yield Piece("display" if display else "inline", body, m.group(0))
        pos = m.end()
    if pos < len(text):
        yield Piece("text", text[pos:], text[pos:])


class UnsafeMathML(ValueError):
    """latex2mathml produced an element that is not on the MathML allow-list."""


def _serialize(el: Element, out: list[str]) -> None:
    tag = el.tag
    if not isinstance(tag, str) or tag not in _TAGS:
        raise UnsafeMathML(str(tag))
    attrs = "".join(
        f' {name}="{escape(value)}"' for name, value in el.attrib.items() if name in _ATTRS
    )
    if tag == "math":
        attrs = ' xmlns="http://www.w3.org/1998/Math/MathML"' + attrs
    out.append(f"<{tag}{attrs}>")
    if el.text:
        out.append(_text(el.text))
    for child in el:
        _serialize(child, out)
        if child.tail:
            out.append(_text(child.tail))
    out.append(f"</{tag}>")


def _text(value: str) -> str:
    # latex2mathml writes symbols as character references ("&#x02299;") and copies \text{…}
    # verbatim: resolve the references, then escape everything, so user text stays text.
    return str(escape(html.unescape(value)))


def math_to_mathml(latex: str, *, display: bool = False) -> Markup | None:
    """One LaTeX formula as sanitized MathML, or None when it cannot be converted safely."""
    if not latex.strip() or len(latex) > _MAX_MATH:
        return None
    try:
        element = convert_to_element(latex, display="block" if display else "inline")
        out: list[str] = []
        _serialize(element, out)
    except Exception:  # latex2mathml raises many types on bad input; the source is shown instead
        return None
    return Markup("".join(out))


# LaTeX escapes for special characters, common in arXiv abstracts ("~20\\% of").
_TEXT_ESCAPES = re.compile(r"\\([$%&#_])")


def _text_html(text: str) -> str:
    return str(escape(_TEXT_ESCAPES.sub(r"\1", text)))


# Pages show the same papers to every reader: rendering a title or excerpt once per process saves
# about a sixth of a feed page's time. Markup is an immutable str, so sharing results is safe.
_CACHED = 8192


@lru_cache(maxsize=_CACHED)
def render(text: str | None) -> Markup:
    """Text with $…$, $$…$$, \\(…\\) and \\[…\\] rendered as MathML and all else HTML-escaped."""
    if not text:
        return Markup("")
    out: list[str] = []
    for piece in split_math(text):
        if piece.kind == "text":
            out.append(_text_html(piece.source))
            continue
        mathml = math_to_mathml(piece.source, display=piece.kind == "display")
        if mathml is None:
            out.append(f'<code class="tex">{escape(piece.raw)}</code>')
        else:
            out.append(f'<span class="math" title="{escape(piece.raw)}">{mathml}</span>')
    return Markup("".join(out))


def render_paragraphs(text: str | None) -> Markup:
    """Text split on blank lines into <p> elements, each rendered with math."""
    if not text:
        return Markup("")
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return Markup("".join(f"<p>{render(p)}</p>" for p in paragraphs))


@lru_cache(maxsize=_CACHED)
def render_excerpt(text: str | None, limit: int = 500) -> Markup:
    """The start of a text (about limit characters), cut between words and never inside math."""
    if not text:
        return Markup("")
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return render(text)
    kept: list[str] = []
    used = 0
    for piece in split_math(text):
        if used + len(piece.raw) <= limit:
            kept.append(piece.raw)
            used += len(piece.raw)
            continue
        if piece.kind == "text":
            room = piece.raw[: limit - used]
            cut = room.rfind(" ")
            kept.append(room[:cut] if cut > 0 else room)
        break
    return Markup(str(render("".join(kept).rstrip())) + "…")


_OPEN, _CLOSE = "\x01", "\x02"  # stand-ins for <mark> while the text is split into math


def _marked_text(text: str) -> str:
    """Escaped text with the stand-ins turned back into balanced <mark> tags."""
    out, depth = [], 0
    for ch in _text_html(text):
        if ch == _OPEN:
            if not depth:
                out.append("<mark>")
            depth += 1
        elif ch == _CLOSE:
            if depth == 1:
                out.append("</mark>")
            depth = max(0, depth - 1)
        else:
            out.append(ch)
    if depth:
        out.append("</mark>")
    return "".join(out)


@lru_cache(maxsize=_CACHED)
def render_highlighted(snippet: str | None) -> Markup:
    """A search snippet (escaped HTML whose only tags are <mark>) with its math rendered.

    Highlights inside a formula are dropped rather than split the formula; a formula the
    snippet cut in half stays text.
    """
    if not snippet:
        return Markup("")
    text = html.unescape(snippet.replace("<mark>", _OPEN).replace("</mark>", _CLOSE))
    out: list[str] = []
    for piece in split_math(text):
        if piece.kind == "text":
            out.append(_marked_text(piece.source))
            continue
        source = piece.source.replace(_OPEN, "").replace(_CLOSE, "")
        raw = piece.raw.replace(_OPEN, "").replace(_CLOSE, "")
        mathml = math_to_mathml(source, display=False)  # inline: a snippet is one line
        if mathml is None:
            out.append(f'<code class="tex">{escape(raw)}</code>')
        else:
            out.append(f'<span class="math" title="{escape(raw)}">{mathml}</span>')
    return Markup("".join(out))


_SUP = str.maketrans("0123456789+-=()in", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿ")
_SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")


def _scripted(text: str, table: dict[int, int], mark: str) -> str:
    """Text as Unicode super- or subscript when every character has one, else mark + text."""
    converted = text.translate(table)
    if all(ord(c) in table for c in text):
        return converted
    return f"{mark}{text}" if len(text) == 1 else f"{mark}({text})"


def _element_text(el: Element) -> str:
    """The readable text of a MathML element: scripts as Unicode, fractions as a/b."""
    kids = list(el)
    tag = el.tag
    if tag in ("msup", "msub", "msubsup") and len(kids) >= 2:
        base = _element_text(kids[0])
        if tag == "msup":
            return base + _scripted(_element_text(kids[1]), _SUP, "^")
        out = base + _scripted(_element_text(kids[1]), _SUB, "_")
        if tag == "msubsup" and len(kids) > 2:
            out += _scripted(_element_text(kids[2]), _SUP, "^")
        return out
    if tag == "mfrac" and len(kids) == 2:
        return f"{_element_text(kids[0])}/{_element_text(kids[1])}"
    if tag == "msqrt":
        return "√(" + "".join(_element_text(k) for k in kids) + ")"
    if tag == "mspace":
        return " "
    if tag == "annotation":
        return ""
    text = html.unescape(el.text or "")
    for child in kids:
        text += _element_text(child) + html.unescape(child.tail or "")
    return text


@lru_cache(maxsize=_CACHED)
def math_text(latex: str) -> str:
    """One LaTeX formula as plain Unicode text (×, ⊙, 10⁹), or its source when unconvertible."""
    if not latex.strip() or len(latex) > _MAX_MATH:
        return latex
    try:
        element = convert_to_element(latex)
    except Exception:  # latex2mathml raises many types on bad input; the source is shown instead
        return latex
    return re.sub(r"\s+", " ", _element_text(element)).strip()


@lru_cache(maxsize=_CACHED)
def plain(text: str | None) -> str:
    """Text with its math as Unicode and no LaTeX markup, for places that cannot hold markup.

    The one helper for page titles, og:title, descriptions and labels: a browser tab reads
    "BayeSN × Dovekie", never "BayeSN $\\times$ Dovekie".
    """
    out = []
    for piece in split_math(text or ""):
        if piece.kind == "text":
            out.append(_TEXT_ESCAPES.sub(r"\1", piece.source))
        else:
            out.append(math_text(piece.source))
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def render_snippet(snippet: str | None, full: str | None) -> Markup:
    """A search snippet with its math rendered, with "…" only at the ends the snippet cut."""
    body = render_highlighted(snippet)
    if not snippet:
        return body
    shown = _normalized(html.unescape(snippet.replace("<mark>", "").replace("</mark>", "")))
    whole = _normalized(full or "")
    before = "" if whole.startswith(shown) else "…"
    after = "" if whole.endswith(shown) else "…"
    return Markup(before) + body + Markup(after)

"""BibTeX export: every value escaped so no title, name or DOI can end its field or run LaTeX."""

from __future__ import annotations

import re
from collections.abc import Sequence

from paperfeed.models import SOURCE_NAMES, Paper
from paperfeed.normalize import clean_text, id_month

# BibTeX counts braces without regard to backslashes, so "\}" still closes a field: text
# braces become brace-free commands, and only the balanced {} of those commands remain.
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "$": r"\$",
    "%": r"\%",  # a comment in LaTeX: would swallow the rest of the .bbl line
    "#": r"\#",
    "&": r"\&",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "@": "{@}",  # some BibTeX readers start a new entry at any @
}
_TEXT_SPECIAL = re.compile("[" + re.escape("".join(_TEXT_ESCAPES)) + "]")
# $…$ with no $ inside: arXiv titles carry LaTeX math, kept as math when it is harmless.
_MATH = re.compile(r"\$([^$]+)\$")
# TeX primitives and LaTeX commands that read or write files, run programs or redefine things:
# math holding any of them is written as plain text instead.
_UNSAFE_COMMANDS = frozenset(
    "input include includeonly write write18 immediate openout openin closeout closein read "
    "readline def edef gdef xdef let futurelet global long outer catcode uccode lccode mathcode "
    "csname endcsname string detokenize scantokens expandafter noexpand newcommand "
    "renewcommand providecommand declarerobustcommand newenvironment renewenvironment "
    "usepackage requirepackage documentclass special directlua luaexec latelua pdfprimitive "
    "lowercase uppercase loop afterassignment aftergroup everypar everymath everyjob output "
    "shipout jobname begin end makeatletter makeatother newwrite newread input@path "
    "url href".split()
)
_COMMAND = re.compile(r"\\([A-Za-z@]+)")
_AND = re.compile(r"\band\b", re.IGNORECASE)


def _safe_math(body: str) -> bool:
    """True when a $…$ body can be copied verbatim: balanced, no comment/parameter/@, no unsafe commands."""
    if body.endswith("\\") or any(c in body for c in "%#&@"):
        return False
    depth = 0
    for ch in body:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    if depth:
        return False
    return not any(m.group(1).lower() in _UNSAFE_COMMANDS for m in _COMMAND.finditer(body))


def _escape_text(text: str) -> str:
    return _TEXT_SPECIAL.sub(lambda m: _TEXT_ESCAPES[m.group(0)], text)


def bib_text(value: str) -> str:
    """A value safe inside a braced BibTeX field: plain text escaped, harmless $math$ kept."""
    text = clean_text(value)
    out: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        if not _safe_math(m.group(1)):
            continue
        out.append(_escape_text(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_escape_text(text[pos:]))
    return "".join(out)


def bib_name(name: str) -> str:
    """One author for an `author` field: braced when it holds the word 'and', which separates names."""
    text = bib_text(name)
    return "{" + text + "}" if _AND.search(text) else text


def bib_key(paper: Paper) -> str:
    """A BibTeX key such as arxiv2401.01234 or biorxiv10.1101_001768 (slashes become underscores)."""
    return paper.source + re.sub(r"[^A-Za-z0-9.\-]", "_", paper.id)


def bibtex_entry(paper: Paper) -> str:
    """One paper as a BibTeX @misc entry with arXiv eprint fields (and a DOI when known)."""
    # The id's YYMM dates the first version when its day is unknown; a listing day never does.
    when = paper.published or id_month(paper.id) or paper.updated
    fields: list[tuple[str, str]] = [
        ("title", "{" + bib_text(paper.title) + "}"),  # double braces keep its capitals
        ("author", " and ".join(bib_name(a) for a in paper.authors if clean_text(a)) or "Unknown"),
    ]
    if when:
        fields.append(("year", str(when.year)))
    if paper.source != "arxiv":
        # bio: a preprint's own DOI is its identity; the journal version's goes in a note.
        return _preprint_entry(paper, fields)
    fields += [("eprint", bib_text(paper.id)), ("archivePrefix", "arXiv")]
    if paper.primary_category:
        fields.append(("primaryClass", bib_text(paper.primary_category)))
    # A value that cleans to nothing (only control characters) writes no field at all.
    if clean_text(paper.doi):
        fields.append(("doi", bib_text(paper.doi or "")))
    if clean_text(paper.journal_ref):
        fields.append(("journal", bib_text(paper.journal_ref or "")))
    fields.append(("url", bib_text(paper.abs_url)))
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
    return f"@misc{{{bib_key(paper)},\n{body}\n}}\n"


def bibtex(papers: Sequence[Paper]) -> str:
    """Many papers as one BibTeX file."""
    return "\n".join(bibtex_entry(p) for p in papers)


def _preprint_entry(paper: Paper, fields: list[tuple[str, str]]) -> str:
    """A bioRxiv/medRxiv preprint: its DOI, the server, and the journal DOI when published."""
    fields += [
        ("doi", bib_text(paper.id)),
        ("howpublished", SOURCE_NAMES.get(paper.source, paper.source)),
        ("publisher", "Cold Spring Harbor Laboratory"),
    ]
    if clean_text(paper.doi):
        fields.append(("note", "Journal version: doi:" + bib_text(paper.doi or "")))
    fields.append(("url", bib_text(paper.abs_url)))
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
    return f"@misc{{{bib_key(paper)},\n{body}\n}}\n"

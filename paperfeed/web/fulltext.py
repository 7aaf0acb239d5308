"""The full text, references and cited-by of a paper page, and its Markdown for agents."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from paperfeed.licenses import allows_full_text
from paperfeed.models import Paper, StoredFullText, StoredReference, TextSection
from paperfeed.sources.arxiv_html import html_url
from paperfeed.store import Database
from paperfeed.store import fulltexts as store
from paperfeed.store import papers as paper_store
from paperfeed.web.context import db_of, path_for, settings_of, templates

CITED_BY_SHOWN = 50  # the page lists this many citing papers, newest first


@dataclass(slots=True)
class ReferenceLink:
    """One bibliography entry and where it links: a local page, arXiv, a DOI, or nowhere."""

    ref: StoredReference
    href: str | None
    local: bool


@dataclass(slots=True)
class FullTextView:
    """What a paper page shows of its full text."""

    stored: StoredFullText | None
    allowed: bool  # the licence lets this instance show the text
    arxiv_html: str  # arXiv's own HTML rendering of the paper
    enabled: bool  # the operator fetches full texts
    references: list[ReferenceLink] = field(default_factory=list)
    cited_by: list[Paper] = field(default_factory=list)

    @property
    def sections(self) -> list[TextSection]:
        """The sections to show: none unless the text is stored and its licence allows it."""
        if self.stored is None or self.stored.status != "ok" or not self.allowed:
            return []
        return self.stored.sections

    @property
    def headed(self) -> list[tuple[TextSection, int]]:
        """The sections with their heading rank (h3 for a section), never skipping a rank.

        LaTeXML puts a \\paragraph straight under a \\section, which would jump from h3 to h6.
        """
        out: list[tuple[TextSection, int]] = []
        prev = 2  # the "Full text" heading is an h2
        for s in self.sections:
            rank = min(s.level + 2, prev + 1, 6)
            out.append((s, rank))
            prev = rank
        return out

    @property
    def has_text(self) -> bool:
        """True when a full text is stored (shown or not)."""
        return self.stored is not None and self.stored.status == "ok"


def reference_href(request: Request, ref: StoredReference) -> tuple[str | None, bool]:
    """Where a reference links: its local paper page first, then arXiv, then the DOI or URL."""
    if ref.cited_id:
        return path_for(request, "paper", arxiv_id=ref.cited_id), True
    if ref.arxiv_id:
        return f"https://arxiv.org/abs/{ref.arxiv_id}", False
    if ref.doi:
        return f"https://doi.org/{ref.doi}", False
    return ref.url, False


def load(
    db: Database, paper: Paper
) -> tuple[StoredFullText | None, list[StoredReference], list[Paper]]:
    """A paper's stored full text, references and the visible papers citing it."""
    with db.read() as conn:
        stored = store.get(conn, paper.id)
        refs = store.references(conn, paper.id)
        citing = store.cited_by(conn, paper.id, limit=CITED_BY_SHOWN)
        found = paper_store.get_papers(conn, citing)
    return stored, refs, [found[i] for i in citing if i in found]


def fulltext_of(request: Request, paper: Paper) -> FullTextView:
    """The full-text part of a paper page (a template global)."""
    settings = settings_of(request)
    stored, refs, citing = load(db_of(request), paper)
    links = [ReferenceLink(r, *reference_href(request, r)) for r in refs]
    return FullTextView(
        stored=stored,
        allowed=allows_full_text(paper.license),
        arxiv_html=html_url(settings.arxiv_html_url, paper.id),
        enabled=settings.fulltext_enabled,
        references=links,
        cited_by=citing,
    )


def markdown(request: Request, paper: Paper) -> str:
    """The full text as Markdown for /papers/{id}.md; a pointer to arXiv when not shown here."""
    view = fulltext_of(request, paper)
    if not view.has_text:
        return ""
    if not view.allowed:
        return (
            "## Full text\n\nThis paper's licence does not let this site show its full text: "
            f"read it at {view.arxiv_html}\n"
        )
    lines = ["## Full text", ""]
    for s, rank in view.headed:
        lines += ["#" * rank + " " + s.label, ""]
        if s.text:
            lines += [s.text, ""]
    if view.references:
        lines += ["## References", ""]
        for link in view.references:
            where = f" <{link.href}>" if link.href else ""
            lines.append(f"{link.ref.position}. {link.ref.text}{where}")
        lines.append("")
    return "\n".join(lines)


templates.env.globals["fulltext_of"] = fulltext_of

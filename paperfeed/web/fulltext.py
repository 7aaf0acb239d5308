"""The full text, references and cited-by of a paper page (the Markdown twin is in service.papers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from paperfeed.models import Paper, StoredFullText, StoredReference, TextSection
from paperfeed.service import papers
from paperfeed.sources.arxiv_html import html_url
from paperfeed.web.context import db_of, path_for, settings_of, templates


@dataclass(slots=True)
class ReferenceLink:
    """One bibliography entry and where it links: a local page, arXiv, a DOI, or nowhere."""

    ref: StoredReference
    href: str | None
    local: bool


@dataclass(slots=True)
class FullTextView:
    """What a paper page shows of its full text."""

    text: papers.PaperFullText
    arxiv_html: str  # arXiv's own HTML rendering of the paper
    enabled: bool  # the operator fetches full texts
    references: list[ReferenceLink] = field(default_factory=list)

    @property
    def stored(self) -> StoredFullText | None:
        """The stored full text, if any."""
        return self.text.stored

    @property
    def allowed(self) -> bool:
        """The licence lets this instance show the text."""
        return self.text.allowed

    @property
    def sections(self) -> list[TextSection]:
        """The sections to show: none unless the text is stored and its licence allows it."""
        return self.text.sections

    @property
    def headed(self) -> list[tuple[TextSection, int]]:
        """The sections with their heading rank (h3 for a section), never skipping a rank."""
        return self.text.headed

    @property
    def has_text(self) -> bool:
        """True when a full text is stored (shown or not)."""
        return self.text.has_text

    @property
    def cited_by(self) -> list[Paper]:
        """The visible papers of this instance citing this one, newest first."""
        return self.text.cited_by


def reference_href(request: Request, ref: StoredReference) -> tuple[str | None, bool]:
    """Where a reference links: its local paper page first, then arXiv, then the DOI or URL."""
    where, local = papers.reference_link(ref)
    if local and where:
        return path_for(request, "paper", arxiv_id=where), True
    return where, False


def fulltext_of(request: Request, paper: Paper) -> FullTextView:
    """The full-text part of a paper page (a template global)."""
    settings = settings_of(request)
    text = papers.full_text(db_of(request), paper)
    return FullTextView(
        text=text,
        arxiv_html=html_url(settings.arxiv_html_url, paper.id),
        enabled=settings.fulltext_enabled,
        references=[ReferenceLink(r, *reference_href(request, r)) for r in text.references],
    )


templates.env.globals["fulltext_of"] = fulltext_of

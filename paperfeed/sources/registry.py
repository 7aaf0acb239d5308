"""The harvestable sources by name; an unknown name lists the valid ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.sources.arxiv_api import ArxivIdsSource
from paperfeed.sources.arxiv_oai import ArxivOaiSource
from paperfeed.sources.base import Source
from paperfeed.sources.biorxiv import BiorxivDoisSource, BiorxivSource
from paperfeed.sources.hf_daily import HfDailySource
from paperfeed.sources.http import HttpClient

Factory = Callable[..., Source]


def _arxiv(settings: Settings, client: HttpClient, **options: Any) -> Source:
    options.setdefault("prefix", settings.harvest_arxiv_format)
    options.setdefault("backfill_days", settings.harvest_backfill_days)
    return ArxivOaiSource(client, settings.arxiv_oai_url, **options)


def _hf(settings: Settings, client: HttpClient, **options: Any) -> Source:
    options.setdefault("backfill_days", settings.harvest_backfill_days)
    return HfDailySource(client, settings.hf_api_url, **options)


def _ids(settings: Settings, client: HttpClient, **options: Any) -> Source:
    return ArxivIdsSource(client, settings.arxiv_api_url, **options)


def _biorxiv(settings: Settings, client: HttpClient, **options: Any) -> Source:
    options.setdefault("backfill_days", settings.harvest_backfill_days)
    return BiorxivSource(client, settings.biorxiv_api_url, **options)


def _biorxiv_dois(settings: Settings, client: HttpClient, **options: Any) -> Source:
    return BiorxivDoisSource(client, settings.biorxiv_api_url, **options)


SOURCES: dict[str, tuple[Factory, str]] = {
    "arxiv": (_arxiv, "arXiv OAI-PMH ListRecords by date window and set"),
    "hf": (_hf, "Hugging Face daily papers, one day at a time"),
    "arxiv-ids": (_ids, "arXiv API lookups of listed ids"),
    "biorxiv": (_biorxiv, "bioRxiv/medRxiv interval listing by date window, server and category"),
    "biorxiv-dois": (_biorxiv_dois, "bioRxiv/medRxiv look-ups of listed DOIs"),
}


def source_names() -> list[str]:
    """The registered source names."""
    return sorted(SOURCES)


def make_source(name: str, settings: Settings, client: HttpClient, **options: Any) -> Source:
    """Build the named source with its options, or ConfigError naming the valid sources."""
    entry = SOURCES.get(name)
    if entry is None:
        raise ConfigError(f"unknown source {name!r}: valid sources are {', '.join(source_names())}")
    return entry[0](settings, client, **options)

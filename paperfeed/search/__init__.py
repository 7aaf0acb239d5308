"""Search: keyword (Tantivy), semantic (embeddings + ANN) and hybrid, plus similar papers."""

from paperfeed.search.query import QueryError, parse
from paperfeed.search.service import (
    MODES,
    SearchResult,
    SearchUnavailable,
    search,
    similar,
    similar_papers,
)

__all__ = [
    "MODES",
    "QueryError",
    "SearchResult",
    "SearchUnavailable",
    "parse",
    "search",
    "similar",
    "similar_papers",
]

"""The vector-backend protocol and the choice of backend: usearch files or pgvector in PostgreSQL."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.search.query import Query

# 'auto' picks pgvector on PostgreSQL with the vector extension, usearch everywhere else.
CHOICES = ("auto", "usearch", "pgvector")


class VectorBackend(Protocol):
    """Nearest papers by meaning; every answer is (paper key, cosine similarity), best first."""

    name: str
    dim: int
    filters_in_query: bool  # True: nearest() applies the query's filters inside its own search

    def __len__(self) -> int: ...

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Up to k nearest papers, no filters."""
        ...

    def nearest(
        self, vector: np.ndarray, k: int, q: Query, *, exclude: str | None = None
    ) -> list[tuple[int, float]]:
        """Up to k nearest papers, filtered by q where filters_in_query, never the excluded id."""
        ...

    def vector_of(self, paper_id: str) -> np.ndarray | None:
        """A paper's indexed vector, or None."""
        ...


def configured(settings: Settings) -> str:
    """The vector_backend setting, checked: an unknown value names the valid ones."""
    value = settings.vector_backend.strip().lower()
    if value not in CHOICES:
        raise ConfigError(
            f"unknown vector_backend {settings.vector_backend!r}: use one of {', '.join(CHOICES)}"
        )
    if value == "pgvector" and not settings.database_url.startswith(("postgres://", "postgresql")):
        raise ConfigError(
            "vector_backend=pgvector needs a PostgreSQL database_url: use auto or usearch with SQLite"
        )
    return value


def resolve(settings: Settings, *, pgvector_available: bool) -> str:
    """The backend to use ('usearch' or 'pgvector') given whether this database has pgvector."""
    value = configured(settings)
    if value == "pgvector" and not pgvector_available:
        raise ConfigError(
            "vector_backend=pgvector but this PostgreSQL lacks the vector extension: install "
            "pgvector (e.g. apt install postgresql-16-pgvector) and run `CREATE EXTENSION vector` "
            "as a superuser (docs/deploy.md), or set PAPERFEED_VECTOR_BACKEND=usearch"
        )
    if value == "auto":
        return "pgvector" if pgvector_available else "usearch"
    return value

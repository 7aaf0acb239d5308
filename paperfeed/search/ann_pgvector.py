"""The pgvector backend: vectors and their HNSW index live in PostgreSQL, shared by all machines."""

from __future__ import annotations

import logging
import time

import numpy as np
import sqlalchemy as sa

from paperfeed.config import Settings
from paperfeed.search.lexical import paper_key
from paperfeed.search.query import Query
from paperfeed.search.vectors import from_bytes
from paperfeed.store import ops, pgvectors
from paperfeed.store import vectors as store_vectors
from paperfeed.store.db import Database

COPY_BATCH = 2000  # vectors copied from paper_vectors per transaction (about 3 MB of text)
ANALYZE_SHARE = 10  # a copy of at least 1/10 of the table refreshes the planner's statistics
READY_TTL = 10.0  # seconds a web process trusts its "vectors exist" answer before asking again

log = logging.getLogger(__name__)


def filters_of(q: Query) -> pgvectors.Filters:
    """The part of a query's filters that the database applies (exclusions stay with keywords)."""
    return pgvectors.Filters(
        categories=q.categories, authors=q.authors, date_from=q.date_from, date_to=q.date_to
    )


class PgvectorBackend:
    """Nearest-neighbour queries on the model's HNSW index, with filters in the same SQL."""

    name = "pgvector"
    filters_in_query = True

    def __init__(
        self, db: Database, model: str, dim: int, *, ef_search: int, exact_max: int
    ) -> None:
        self.db = db
        self.model = model
        self.dim = dim
        self.ef_search = ef_search
        self.exact_max = exact_max

    def __len__(self) -> int:
        with self.db.read() as conn:
            return pgvectors.count(conn, self.model)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Up to k nearest visible papers, no filters."""
        return self.nearest(vector, k, Query())

    def nearest(
        self, vector: np.ndarray, k: int, q: Query, *, exclude: str | None = None
    ) -> list[tuple[int, float]]:
        """Up to k nearest visible papers passing q's category, author and date filters."""
        with self.db.read() as conn:
            found = pgvectors.nearest(
                conn,
                self.model,
                self.dim,
                vector,
                k,
                filters_of(q),
                exclude=exclude,
                ef_search=self.ef_search,
                exact_max=self.exact_max,
            )
        return [(paper_key(pid), score) for pid, score in found]

    def vector_of(self, paper_id: str) -> np.ndarray | None:
        """A paper's vector in the database, or None."""
        with self.db.read() as conn:
            return pgvectors.get(conn, paper_id, self.model)


class PgvectorTables:
    """A web process's view of the vector table: whether this model's vectors exist yet."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self._ready: dict[str, tuple[float, bool]] = {}

    def available(self) -> bool:
        """True when this database has the vector extension (the table may still be missing).

        A database that cannot be reached raises: the choice is made again on the next search
        instead of settling on usearch for the life of the process.
        """
        with self.db.read() as conn:
            return pgvectors.has_table(conn) or pgvectors.extension_installed(conn)

    def current(self, model: str, dim: int) -> PgvectorBackend | None:
        """The backend once at least one vector of the model was copied, else None."""
        now = time.monotonic()
        at, ok = self._ready.get(model, (float("-inf"), False))
        if now - at > READY_TTL:
            with self.db.read() as conn:
                ok = pgvectors.has_table(conn) and pgvectors.any_for(conn, model)
            self._ready[model] = (now, ok)
        if not ok:
            return None
        return PgvectorBackend(
            self.db,
            model,
            dim,
            ef_search=self.settings.pgvector_ef_search,
            exact_max=self.settings.pgvector_exact_max,
        )


def sync(
    db: Database, settings: Settings, model: str, dim: int, *, rebuild: bool = False
) -> tuple[int, int]:
    """Copy vectors new since the table's watermark into PostgreSQL; returns (size, changed).

    Hidden flags need no copying: searches join papers. The HNSW index is built after a first
    (or rebuilding) copy, as pgvector advises, rather than grown row by row.
    """
    with db.write() as conn:
        if not pgvectors.ensure_schema(conn):
            raise RuntimeError("pgvector is not available in this database")
        if rebuild:
            pgvectors.drop_index(conn, model, dim)
            pgvectors.delete_model(conn, model)
        wm = pgvectors.watermark(conn, model)
        indexed = pgvectors.has_index(conn, model, dim)
    changed = 0
    t0 = time.monotonic()
    while True:
        with db.read() as conn:
            rows = store_vectors.vectors_changed_since(conn, wm, model, limit=COPY_BATCH)
        if not rows:
            break
        with db.write() as conn:
            pgvectors.save(conn, model, [(r.paper_id, r.rev, from_bytes(r.vector)) for r in rows])
        wm = rows[-1].rev
        changed += len(rows)
    if not indexed:
        t1 = time.monotonic()
        with db.write() as conn:
            conn.execute(
                sa.text("SELECT set_config('maintenance_work_mem', :m, true)"),
                {"m": settings.pgvector_build_memory},
            )
            pgvectors.ensure_index(conn, model, dim)
        log.info(
            "pgvector: copied %d vectors in %.1f s, built the HNSW index in %.1f s",
            changed,
            t1 - t0,
            time.monotonic() - t1,
        )
    with db.read() as conn:
        size = pgvectors.count(conn, model)
    if changed and (not indexed or changed * ANALYZE_SHARE >= size):
        # Planner statistics now, not when autovacuum gets to it: without them PostgreSQL
        # ranked every vector instead of walking the new index.
        with db.write() as conn:
            ops.analyze(conn, (pgvectors.TABLE, "papers"))
    return size, changed

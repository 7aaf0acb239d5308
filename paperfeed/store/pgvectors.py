"""Paper vectors inside PostgreSQL with pgvector: a halfvec copy of paper_vectors, HNSW-indexed.

The table holds one `halfvec` per paper (no fixed dimension) and each embedding model gets its
own partial HNSW index over `embedding::halfvec(<dim>)`, pgvector's documented way to index
several dimensions in one column. Searches join papers, so hidden flags and filters are read
from the papers table in the same query and never go stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

TABLE = "paper_embeddings"
# HNSW build parameters: pgvector's defaults, as usearch's 16 links; ef_construction 64 (not
# usearch's 128) halves the build time, and recall is measured with it (docs/benchmarks.md).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
# Candidates each HNSW scan keeps; 200 matches the usearch engine's 192 (docs/benchmarks.md).
EF_SEARCH = 200
# Most index tuples one iterative scan visits before it gives up on a narrow filter (categories
# small enough never walk the graph: EXACT_MAX below).
MAX_SCAN_TUPLES = 100_000
# Categories holding at most this many papers are ranked exactly (every paper of them, from
# m0026's GIN index); the default of the pgvector_exact_max setting. At 1M papers a graph walk past the other categories' neighbours took
# 126 / 199 ms (p50 / p95) for 2,712 papers and 66 / 138 ms for 5,394, at recall 0.83-0.86;
# ranking them exactly took 41 / 46 and 66 / 77 ms at recall 1.0. From about 7,500 papers the
# walk's median is lower (bench/pgvector_categories.py, docs/benchmarks.md).
EXACT_MAX = 5_000


@dataclass(frozen=True, slots=True)
class Filters:
    """What a paper must match: lower-case categories (OR; 'cs' = archive), authors (AND), dates."""

    categories: tuple[str, ...] = ()
    authors: tuple[tuple[str, ...], ...] = ()  # each name as lower-case words, in order
    date_from: date | None = None
    date_to: date | None = None
    sources: tuple[str, ...] = ()  # papers.source values (OR)


def extension_ready(conn: Connection) -> bool:
    """True when the vector extension is installed in this database (creating it if allowed)."""
    if conn.dialect.name != "postgresql":
        return False
    if extension_installed(conn):
        return True
    available = conn.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    ).first()
    if available is None:
        return False
    # CREATE EXTENSION needs a superuser (or database owner on PostgreSQL 13+ when trusted);
    # a savepoint keeps the caller's transaction usable when it is refused.
    try:
        with conn.begin_nested():
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError:
        return False
    return True


def extension_installed(conn: Connection) -> bool:
    """True when the vector extension is installed in this database."""
    if conn.dialect.name != "postgresql":
        return False
    return (
        conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first()
        is not None
    )


def has_table(conn: Connection) -> bool:
    """True when the vector table exists (pgvector is installed and the schema made)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar())


def ensure_schema(conn: Connection) -> bool:
    """Create the vector table when pgvector can be had; False (and nothing done) otherwise."""
    if not extension_ready(conn):
        return False
    conn.execute(
        sa.text(
            "CREATE TABLE IF NOT EXISTS paper_embeddings ("
            " paper_id VARCHAR(64) PRIMARY KEY"
            "  REFERENCES paper_vectors (paper_id) ON DELETE CASCADE,"
            " model VARCHAR(200) NOT NULL,"
            " rev BIGINT NOT NULL,"  # paper_vectors.rev copied: the catch-up watermark
            " embedding halfvec NOT NULL)"
        )
    )
    conn.execute(
        sa.text(
            "CREATE INDEX IF NOT EXISTS ix_paper_embeddings_model_rev ON paper_embeddings (model, rev)"
        )
    )
    return True


def _model_literal(model: str) -> str:
    return "'" + model.replace("'", "''") + "'"


def index_name(model: str, dim: int) -> str:
    """The HNSW index of one model's vectors (model names can hold any character)."""
    return f"ix_paper_embeddings_hnsw_{dim}_{hashlib.blake2b(model.encode(), digest_size=6).hexdigest()}"


def has_index(conn: Connection, model: str, dim: int) -> bool:
    """True when the model's HNSW index exists."""
    q = sa.text("SELECT to_regclass(:n) IS NOT NULL")
    return bool(conn.execute(q, {"n": index_name(model, dim)}).scalar())


def ensure_index(conn: Connection, model: str, dim: int) -> None:
    """Build the model's HNSW (cosine) index if missing; after a bulk copy it builds fastest."""
    conn.execute(
        sa.text(
            f"CREATE INDEX IF NOT EXISTS {index_name(model, dim)} ON paper_embeddings USING hnsw "
            f"((embedding::halfvec({int(dim)})) halfvec_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
            f"WHERE model = {_model_literal(model)}"
        )
    )


def drop_index(conn: Connection, model: str, dim: int) -> None:
    """Drop the model's HNSW index (a rebuild copies first and indexes after)."""
    conn.execute(sa.text(f"DROP INDEX IF EXISTS {index_name(model, dim)}"))


def literal(v: np.ndarray) -> str:
    """A vector as pgvector's text form '[x,y,...]'; 6 digits, more than halfvec keeps (~3.3)."""
    return "[" + ",".join([f"{x:.6g}" for x in np.asarray(v, dtype=np.float32).tolist()]) + "]"


def watermark(conn: Connection, model: str) -> int:
    """The highest paper_vectors change number copied for a model, 0 when none."""
    q = sa.text("SELECT COALESCE(MAX(rev), 0) FROM paper_embeddings WHERE model = :m")
    return int(conn.execute(q, {"m": model}).scalar_one())


def save(conn: Connection, model: str, rows: Sequence[tuple[str, int, np.ndarray]]) -> None:
    """Insert or replace vectors given as (paper_id, paper_vectors.rev, vector)."""
    if not rows:
        return
    conn.execute(
        sa.text(
            "INSERT INTO paper_embeddings (paper_id, model, rev, embedding) "
            "VALUES (:p, :m, :r, CAST(:v AS halfvec)) "
            "ON CONFLICT (paper_id) DO UPDATE SET model = EXCLUDED.model, rev = EXCLUDED.rev, "
            "embedding = EXCLUDED.embedding"
        ),
        [{"p": pid, "m": model, "r": rev, "v": literal(v)} for pid, rev, v in rows],
    )


def delete_model(conn: Connection, model: str) -> int:
    """Drop every copied vector of a model (for a rebuild); returns how many."""
    res = conn.execute(sa.text("DELETE FROM paper_embeddings WHERE model = :m"), {"m": model})
    return int(res.rowcount or 0)


def count(conn: Connection, model: str) -> int:
    """How many vectors of a model are copied."""
    q = sa.text("SELECT COUNT(*) FROM paper_embeddings WHERE model = :m")
    return int(conn.execute(q, {"m": model}).scalar_one())


def any_for(conn: Connection, model: str) -> bool:
    """True when at least one vector of a model is copied."""
    q = sa.text("SELECT EXISTS (SELECT 1 FROM paper_embeddings WHERE model = :m)")
    return bool(conn.execute(q, {"m": model}).scalar())


def get(conn: Connection, paper_id: str, model: str) -> np.ndarray | None:
    """One paper's copied vector, or None."""
    q = sa.text("SELECT embedding::text FROM paper_embeddings WHERE paper_id = :p AND model = :m")
    text = conn.execute(q, {"p": paper_id, "m": model}).scalar_one_or_none()
    if text is None:
        return None
    return np.array(text.strip("[]").split(","), dtype=np.float32)


# Every filter is always in the SQL and switched off by a NULL parameter, so the text is
# constant; PostgreSQL plans each call with its values and drops the switched-off conditions.
# DIM is replaced by the dimension: the HNSW index is on that very expression.
_DIST = "e.embedding::halfvec(DIM) <=> CAST(:q AS halfvec(DIM))"
# S608: every piece is a constant of this module; values go in as bound parameters.
_MATCHING = (
    f" SELECT e.paper_id, {_DIST} AS dist"  # noqa: S608
    " FROM paper_embeddings e JOIN papers p ON p.id = e.paper_id"
    " WHERE e.model = :m AND NOT p.hidden"
    # The keyword index's rule ('cs.cl' that category, 'cs' every cs.* one), on m0026's terms.
    " AND (CAST(:cats AS text[]) IS NULL OR p.category_terms && CAST(:cats AS text[]))"
    # Every author pattern matches some author (authors are AND, as in the keyword index).
    " AND (CAST(:authors AS text[]) IS NULL OR NOT EXISTS ("
    "  SELECT 1 FROM unnest(CAST(:authors AS text[])) AS r(re) WHERE NOT EXISTS ("
    "   SELECT 1 FROM json_array_elements_text(CAST(p.authors AS json)) AS a(value)"
    "   WHERE a.value ~* r.re)))"
    " AND (CAST(:dfrom AS date) IS NULL OR COALESCE(p.published, p.updated) >= CAST(:dfrom AS date))"
    " AND (CAST(:dto AS date) IS NULL OR COALESCE(p.published, p.updated) < CAST(:dto AS date) + 1)"
    " AND (CAST(:sources AS text[]) IS NULL OR p.source = ANY(CAST(:sources AS text[])))"
    " AND (CAST(:ex AS text) IS NULL OR e.paper_id <> CAST(:ex AS text))"
)
# The HNSW scan. relaxed_order may hand back neighbours slightly out of order: the outer query
# re-sorts (pgvector's documented pattern, a MATERIALIZED CTE so the sort is not folded away).
_NEAREST = (
    f"WITH hits AS MATERIALIZED ({_MATCHING} ORDER BY {_DIST} LIMIT :k)"  # noqa: S608
    " SELECT paper_id, dist FROM hits ORDER BY dist, paper_id"
)
# Every match ranked: the distances are computed inside the CTE, which has no ORDER BY the
# planner could answer from the HNSW index, so none is skipped.
_EXACT = (
    f"WITH hits AS MATERIALIZED ({_MATCHING})"  # noqa: S608
    " SELECT paper_id, dist FROM hits ORDER BY dist, paper_id LIMIT :k"
)
# How many papers the categories hold, counted through m0026's GIN index up to a cap.
_IN_CATEGORIES = (
    "SELECT count(*) FROM (SELECT 1 FROM papers"
    " WHERE category_terms && CAST(:cats AS text[]) LIMIT :cap) AS few"
)


def _filter_params(f: Filters, exclude: str | None) -> dict[str, object]:
    """The parameters of _NEAREST's filters; None switches a condition off."""
    return {
        "cats": list(f.categories) or None,
        # Words in order and adjacent inside one author's name, as the keyword index's phrase
        # query over word tokens (case-insensitive, any punctuation between the words).
        "authors": [
            r"(^|[^[:alnum:]])"
            + r"[^[:alnum:]]+".join(_regex_escape(w) for w in words)
            + r"([^[:alnum:]]|$)"
            for words in f.authors
        ]
        or None,
        "dfrom": f.date_from,
        "dto": f.date_to,
        "sources": list(f.sources) or None,
        "ex": exclude,
    }


def _regex_escape(word: str) -> str:
    return "".join("\\" + ch if not ch.isalnum() else ch for ch in word)


def nearest(
    conn: Connection,
    model: str,
    dim: int,
    vector: np.ndarray,
    k: int,
    filters: Filters | None = None,
    *,
    exclude: str | None = None,
    ef_search: int = EF_SEARCH,
    exact_max: int = EXACT_MAX,
) -> list[tuple[str, float]]:
    """Up to k (paper_id, cosine similarity) of visible papers passing filters, most similar first.

    The filters sit in the same query as the HNSW scan; with pgvector's iterative scans the
    index keeps yielding neighbours until k of them pass (or MAX_SCAN_TUPLES were visited), so
    a narrow filter returns every match instead of whatever survived a fixed over-fetch.
    Categories of at most exact_max papers skip the graph: every paper in them is ranked.
    """
    if k <= 0:
        return []
    _scan_settings(conn, ef_search)
    sql, params = _nearest_query(conn, model, dim, vector, k, filters, exclude, exact_max)
    rows = conn.execute(sql, params).all()
    return [(r.paper_id, 1.0 - float(r.dist)) for r in rows]


def explain_nearest(
    conn: Connection,
    model: str,
    dim: int,
    vector: np.ndarray,
    k: int,
    filters: Filters | None = None,
    *,
    ef_search: int = EF_SEARCH,
    exact_max: int = EXACT_MAX,
) -> list[str]:
    """PostgreSQL's plan for nearest() with these arguments, one line a step."""
    _scan_settings(conn, ef_search)
    sql, params = _nearest_query(conn, model, dim, vector, k, filters, None, exact_max)
    return [r[0] for r in conn.execute(sa.text("EXPLAIN " + sql.text), params)]


def _scan_settings(conn: Connection, ef_search: int) -> None:
    # One round trip for the three scan settings (transaction-local, like SET LOCAL).
    conn.execute(
        sa.text(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
            " set_config('hnsw.ef_search', :ef, true), set_config('hnsw.max_scan_tuples', :mx, true)"
        ),
        {"ef": str(int(ef_search)), "mx": str(MAX_SCAN_TUPLES)},
    )


def _nearest_query(
    conn: Connection,
    model: str,
    dim: int,
    vector: np.ndarray,
    k: int,
    filters: Filters | None,
    exclude: str | None,
    exact_max: int,
    *,
    exact: bool = False,
) -> tuple[sa.TextClause, dict[str, object]]:
    """The SQL and parameters of one nearest() call: exact when its categories are small."""
    f = filters or Filters()
    params = {"m": model, "q": literal(vector), "k": int(k), **_filter_params(f, exclude)}
    if f.categories and not exact:
        few = conn.execute(sa.text(_IN_CATEGORIES), {**params, "cap": exact_max + 1}).scalar()
        exact = int(few or 0) <= exact_max
    return sa.text((_EXACT if exact else _NEAREST).replace("DIM", str(int(dim)))), params


def exact_nearest(
    conn: Connection, model: str, dim: int, vector: np.ndarray, k: int, filters: Filters
) -> list[tuple[str, float]]:
    """The same answer as nearest() computed without the index (every match ranked), for tests."""
    sql, params = _nearest_query(conn, model, dim, vector, k, filters, None, 0, exact=True)
    return [(r.paper_id, 1.0 - float(r.dist)) for r in conn.execute(sql, params).all()]

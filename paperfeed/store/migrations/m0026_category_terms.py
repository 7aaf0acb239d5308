"""Category terms on PostgreSQL: an indexed array that lets a narrow category filter go exact."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Each category lower-cased, and its archive ('cs.CL' gives 'cs.cl' and 'cs'): the keyword
# index's rule, so `category_terms && ARRAY['cs']` is the same filter as the search page's.
_FUNCTION = """
CREATE OR REPLACE FUNCTION paperfeed_category_terms(cats json) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(array_agg(DISTINCT t.term ORDER BY t.term), '{}'::text[])
  FROM json_array_elements_text(CASE WHEN json_typeof(cats) = 'array' THEN cats END) AS c(value),
  LATERAL (VALUES (lower(c.value)), (split_part(lower(c.value), '.', 1))) AS t(term)
$$
"""


def upgrade(conn: Connection, dialect: str) -> None:
    """Add papers.category_terms (generated, GIN-indexed) on PostgreSQL; a no-op on SQLite.

    SQLite filters categories in its keyword index; on PostgreSQL the vector search
    (store/pgvectors.nearest) uses the column to rank a small category exactly.
    """
    if dialect != "postgresql":
        return
    conn.execute(sa.text(_FUNCTION))
    conn.execute(
        sa.text(
            "ALTER TABLE papers ADD COLUMN category_terms text[]"
            " GENERATED ALWAYS AS (paperfeed_category_terms(categories)) STORED"
        )
    )
    conn.execute(sa.text("CREATE INDEX papers_category_terms ON papers USING gin (category_terms)"))

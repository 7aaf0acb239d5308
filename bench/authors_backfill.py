"""Time the m0012 authorship backfill on PostgreSQL over N synthetic papers of 6 authors each (PAPERFEED_TEST_DATABASE_URL)."""

import json
import sys
import time
import uuid

import sqlalchemy as sa

sys.path.insert(0, "tests")
from conftest import _pg_database

from paperfeed.store import open_database
from paperfeed.store.migrations import m0012_authors
from paperfeed.store.schema import paper_authors

n = int(sys.argv[1])
name = f"bench_{uuid.uuid4().hex[:8]}"
url, admin = _pg_database(name)
db = open_database(url)
try:
    with db.write() as conn:
        rows = []
        for i in range(n):
            rows.append(
                {
                    "id": f"{2000 + i // 100000}.{i % 100000:05d}",
                    "authors": [f"Author {i % 5000} {j}" for j in range(5)] + ["José García"],
                }
            )
        conn.execute(
            sa.text(
                "INSERT INTO papers (id, version, title, abstract, authors, categories, ext_upvotes, votes, num_comments, hidden, rev, created_at, modified_at) "
                "SELECT x->>'id', 1, 't', 'a', x->'authors', '[]'::json, 0, 0, 0, false, 0, now(), now() FROM json_array_elements(CAST(:rows AS json)) x"
            ),
            {"rows": json.dumps(rows)},
        )
        conn.execute(sa.delete(paper_authors))
    t = time.perf_counter()
    with db.write() as conn:
        m0012_authors._backfill(conn, paper_authors)
    dt = time.perf_counter() - t
    with db.read() as conn:
        k = conn.execute(sa.select(sa.func.count()).select_from(paper_authors)).scalar_one()
    print(f"{n} papers, {k} author rows: backfill {dt:.1f} s ({n / dt:,.0f} papers/s)")
finally:
    db.dispose()
    with admin.connect() as c:
        c.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))

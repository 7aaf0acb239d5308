"""Backups and restores: a restore drill on both backends, online consistency, refusals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from _harvest_helpers import empty_paper_dependents
from click.testing import CliRunner
from conftest import FIXTURES

from paperfeed.cli import main
from paperfeed.errors import PaperfeedError
from paperfeed.models import Paper
from paperfeed.pipeline import import_files
from paperfeed.store import Database, open_database
from paperfeed.store import harvests as harvest_store
from paperfeed.store import papers as paper_store
from paperfeed.store.backup import (
    BackupError,
    backup,
    backup_kind,
    integrity_problems,
    libpq_url,
    restore,
    table_counts,
)
from paperfeed.store.migrate import applied, available

DAYS = FIXTURES / "hf_raw_days"


def cli(url: str, *args: str, data_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["--database-url", url, *args],
        env={"PAPERFEED_DATA_DIR": str(data_dir)},
        catch_exceptions=False,
    )
    return result.exit_code, result.output


def seed(db: Database) -> None:
    import_files(db, [DAYS / "2024-05-29.json", DAYS / "2025-03-12.json"])
    with db.write() as conn:
        run = harvest_store.start_run(conn, "hf")
        harvest_store.update_run(
            conn, run, new=3, updated=0, skipped=0, errors=0, status="ok", finished=True
        )


def test_restore_drill(db: Database, database_url: str, tmp_path: Path) -> None:
    seed(db)
    before = table_counts(db)
    assert before["papers"] > 20 and before["feed_entries"] > 20 and before["harvest_runs"] == 1
    with db.read() as conn:
        first = conn.execute(sa.text("SELECT id, title FROM papers ORDER BY id LIMIT 1")).one()
    dest = tmp_path / "backups" / "pf.backup"

    code, out = cli(database_url, "backup", str(dest), data_dir=tmp_path / "data")
    assert code == 0, out
    assert backup_kind(dest) == ("sqlite" if db.dialect == "sqlite" else "pg_dump")
    assert not dest.with_name(dest.name + ".partial").exists()

    # Disaster: feed entries wiped, papers deleted, a title vandalised, rows added.
    with db.write() as conn:
        conn.execute(sa.text("DELETE FROM feed_entries"))
        empty_paper_dependents(conn)
        conn.execute(sa.text("DELETE FROM papers WHERE id > :id"), {"id": first.id})
        conn.execute(
            sa.text("UPDATE papers SET title = 'vandalised' WHERE id = :id"), {"id": first.id}
        )
        paper_store.upsert_papers(conn, [Paper(id="2501.99999", title="Added after the backup")])
    assert table_counts(db) != before

    code, out = cli(
        database_url, "restore", "--yes", "--no-index", str(dest), data_dir=tmp_path / "data"
    )
    assert code == 0, out
    assert "integrity ok" in out
    assert integrity_problems(db) == []
    assert table_counts(db) == before
    with db.read() as conn:
        assert paper_store.get_paper(conn, first.id).title == first.title  # type: ignore[union-attr]
        assert paper_store.get_paper(conn, "2501.99999") is None
    assert applied(db) == available()
    # The restored database takes writes again (sequences and counters came back too).
    with db.write() as conn:
        run = harvest_store.start_run(conn, "arxiv")
    assert run > 1


def test_backup_refuses_overwrite_and_restore_refuses_junk(
    sqlite_db: Database, tmp_path: Path
) -> None:
    dest = tmp_path / "b.db"
    backup(sqlite_db, dest)
    with pytest.raises(BackupError, match="already exists"):
        backup(sqlite_db, dest)
    assert backup(sqlite_db, dest, overwrite=True).kind == "sqlite"
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a backup at all")
    with pytest.raises(BackupError, match="neither a SQLite backup nor a pg_dump"):
        restore(sqlite_db, junk)
    fake_dump = tmp_path / "x.dump"
    fake_dump.write_bytes(b"PGDMP" + b"\0" * 100)
    with pytest.raises(BackupError, match="PostgreSQL dump; restore it into PostgreSQL"):
        restore(sqlite_db, fake_dump)
    other = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(BackupError, match="not a paperfeed database"):
        restore(sqlite_db, other)
    assert isinstance(BackupError("x"), PaperfeedError)


def test_sqlite_backup_is_consistent_while_writers_commit(
    sqlite_db: Database, tmp_path: Path
) -> None:
    # Each transaction adds exactly 10 papers; a consistent snapshot holds a multiple of 10.
    stop = threading.Event()
    done = 0

    def writer() -> None:
        nonlocal done
        i = 0
        while not stop.is_set() and i < 400:
            batch = [Paper(id=f"2401.{i * 10 + k:05d}", title=f"paper {i} {k}") for k in range(10)]
            with sqlite_db.write() as conn:
                paper_store.upsert_papers(conn, batch)
            i += 1
            done = i

    t = threading.Thread(target=writer)
    t.start()
    try:
        counts = []
        for n in range(5):
            info = backup(sqlite_db, tmp_path / f"b{n}.db")
            copy = Database(f"sqlite:///{info.path}")
            assert integrity_problems(copy) == []
            counts.append(table_counts(copy)["papers"])
            copy.dispose()
    finally:
        stop.set()
        t.join()
    assert done > 0
    assert all(c % 10 == 0 for c in counts), counts
    assert not list(tmp_path.glob("b*.db-wal"))  # each backup is one self-contained file


def test_restore_rebuilds_the_keyword_index(tmp_path: Path) -> None:
    pytest.importorskip("tantivy")
    url = f"sqlite:///{tmp_path / 'pf.db'}"
    data = tmp_path / "data"
    assert cli(url, "init", data_dir=data)[0] == 0
    assert cli(url, "import", "-q", str(DAYS / "2024-05-29.json"), data_dir=data)[0] == 0
    assert cli(url, "index", "--no-embed", "-q", data_dir=data)[0] == 0
    code, out = cli(url, "backup", str(tmp_path / "b.db"), data_dir=data)
    assert code == 0, out
    db = Database(url)
    with db.read() as conn:
        pid, title = conn.execute(sa.text("SELECT id, title FROM papers ORDER BY id LIMIT 1")).one()
    with db.write() as conn:
        conn.execute(sa.text("DELETE FROM feed_entries"))
        empty_paper_dependents(conn)
        conn.execute(sa.text("DELETE FROM papers"))
    db.dispose()
    code, out = cli(url, "restore", "-y", str(tmp_path / "b.db"), data_dir=data)
    assert code == 0, out
    assert "keyword index rebuilt" in out or "search indexes rebuilt" in out
    word = max(title.split(), key=len)
    code, out = cli(url, "search", "--mode", "lexical", "--json", word, data_dir=data)
    assert code == 0, out
    assert pid in out


def test_libpq_url_keeps_the_schema_of_the_search_path() -> None:
    url, schema = libpq_url("postgresql+psycopg://u:p@h:5/db?options=-csearch_path%3Dt_abc")
    assert url.startswith("postgresql://u:p@h:5/db?") and schema == "t_abc"
    assert libpq_url("postgresql+psycopg://u@h/db") == ("postgresql://u@h/db", None)


@pytest.fixture
def pg_whole_database() -> Iterator[str]:
    """The URL of a fresh, whole PostgreSQL database (public schema), dropped afterwards."""
    import uuid

    from conftest import PG_URL

    from paperfeed.store.db import normalize_url

    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set PAPERFEED_TEST_DATABASE_URL")
    name = f"pf_ops_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = sa.engine.make_url(normalize_url(PG_URL)).set(database=name, query={})
    try:
        yield base.render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_restore_drill_on_a_whole_postgresql_database(
    pg_whole_database: str, tmp_path: Path
) -> None:
    url = pg_whole_database
    db = open_database(url)
    try:
        seed(db)
        before = table_counts(db)
        code, out = cli(url, "backup", str(tmp_path / "whole.dump"), data_dir=tmp_path / "d")
        assert code == 0, out
        with db.write() as conn:
            conn.execute(sa.text("DELETE FROM feed_entries"))
            empty_paper_dependents(conn)
            conn.execute(sa.text("DELETE FROM papers"))
            conn.execute(sa.text("CREATE TABLE made_after_backup (x int)"))
        db.dispose()
        code, out = cli(
            url,
            "restore",
            "-y",
            "--no-index",
            str(tmp_path / "whole.dump"),
            data_dir=tmp_path / "d",
        )
        assert code == 0, out
        assert table_counts(db) == before  # the table made after the backup is gone too
        assert integrity_problems(db) == []
    finally:
        db.dispose()


def test_sqlite_restore_onto_a_new_machine_and_odd_file_names(tmp_path: Path) -> None:
    odd = tmp_path / "my backups #1"
    odd.mkdir()
    live = Database(f"sqlite:///{odd / 'pf 1.db'}")
    from paperfeed.store.migrate import upgrade

    upgrade(live)
    seed(live)
    before = table_counts(live)
    backup(live, odd / "copy ?2 %41.db")
    live.dispose()
    # Disaster recovery: an empty folder on another machine, no database file yet.
    fresh_url = f"sqlite:///{tmp_path / 'new machine' / 'pf.db'}"
    code, out = cli(
        fresh_url,
        "restore",
        "-y",
        "--no-index",
        str(odd / "copy ?2 %41.db"),
        data_dir=tmp_path / "d",
    )
    assert code == 0, out
    restored = Database(fresh_url)
    assert table_counts(restored) == before
    restored.dispose()


def test_postgres_password_goes_through_the_environment_not_argv() -> None:
    from paperfeed.store.backup import _without_password

    url, env = _without_password("postgresql://pf:s3cr%40t@db.internal:5432/papers")
    assert url == "postgresql://pf@db.internal:5432/papers" and env["PGPASSWORD"] == "s3cr@t"

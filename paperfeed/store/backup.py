"""Consistent online backups and restores of the store, and the integrity checks a drill ends with."""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import sqlalchemy as sa

from paperfeed.errors import PaperfeedError
from paperfeed.store.db import SQLITE_BUSY_TIMEOUT_MS, Database

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
PG_TIMEOUT = (
    6 * 3600
)  # seconds: pg_dump of all of arXiv takes minutes; a hung server must not hang cron forever


class BackupError(PaperfeedError):
    """A backup or restore cannot be made; the message says how to fix it."""


@dataclass(frozen=True)
class BackupInfo:
    """What a backup wrote: the file, its format and its size in bytes."""

    path: Path
    kind: str  # "sqlite" or "pg_dump"
    size: int


def backup(db: Database, dest: Path, *, overwrite: bool = False) -> BackupInfo:
    """Write a consistent copy of the live database to dest (written aside, then renamed in place)."""
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise BackupError(f"{dest} already exists: choose another path or pass --force")
    if dest.is_dir():
        raise BackupError(f"{dest} is a folder: give a file path such as {dest}/paperfeed.backup")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    try:
        if db.dialect == "sqlite":
            _sqlite_backup(_sqlite_file(db), tmp)
            kind = "sqlite"
        else:
            _pg_dump(db, tmp)
            kind = "pg_dump"
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupInfo(dest, kind, dest.stat().st_size)


def restore(db: Database, src: Path) -> str:
    """Replace the live database's contents with a backup; returns the backup's kind."""
    src = Path(src)
    if not src.is_file():
        raise BackupError(f"no backup file at {src}")
    kind = backup_kind(src)
    if db.dialect == "sqlite" and kind != "sqlite":
        raise BackupError(
            f"{src} is a PostgreSQL dump; restore it into PostgreSQL (set PAPERFEED_DATABASE_URL) "
            "or move data between backends with `paperfeed export` and `paperfeed import`"
        )
    if db.dialect == "postgresql" and kind != "pg_dump":
        raise BackupError(
            f"{src} is a SQLite backup; restore it into SQLite, or move data between backends "
            "with `paperfeed export` and `paperfeed import`"
        )
    db.dispose()  # our own pooled connections must not hold a snapshot across the swap
    if kind == "sqlite":
        _sqlite_restore(src, _sqlite_file(db))
    else:
        _pg_restore(db, src)
    db.dispose()
    return kind


def backup_kind(path: Path) -> str:
    """'sqlite' or 'pg_dump' from a backup file's first bytes, or BackupError."""
    with Path(path).open("rb") as fh:
        head = fh.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "pg_dump"
    raise BackupError(
        f"{path} is neither a SQLite backup nor a pg_dump custom-format file made by `paperfeed backup`"
    )


def integrity_problems(db: Database) -> list[str]:
    """Problems an integrity check finds (empty when the database is sound)."""
    with db.read() as conn:
        if db.dialect == "sqlite":
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
            problems = [] if rows == ["ok"] else rows
            for r in conn.exec_driver_sql("PRAGMA foreign_key_check"):
                problems.append(f"foreign key violation in {r[0]} row {r[1]} -> {r[2]}")
            return problems
        # PostgreSQL guards its pages (WAL) and enforces foreign keys itself; counting every
        # table reads each one end to end, which proves the restored rows are readable.
        conn.execute(sa.text("SELECT 1"))
        table_counts_on(conn)
        return []


def table_counts(db: Database) -> dict[str, int]:
    """Rows per table, for comparing a restored database with the one backed up."""
    with db.read() as conn:
        return table_counts_on(conn)


def table_counts_on(conn: sa.Connection) -> dict[str, int]:
    """Rows per table on an open connection (every table in the connection's schema)."""
    names = sorted(sa.inspect(conn).get_table_names())
    return {
        name: int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())
        for name in names
    }


# --- SQLite ---


def _sqlite_file(db: Database) -> Path:
    path = db.sqlite_path
    if path is None:
        raise BackupError("an in-memory SQLite database cannot be backed up; use a file URL")
    return path


def _readonly_uri(path: Path) -> str:
    # '?', '#' and '%' in a file name would otherwise be read as URI syntax.
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def _connect(path: Path | str, *, uri: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, uri=uri, isolation_level=None
    )
    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return conn


def _sqlite_backup(live: Path, dest: Path) -> None:
    if not live.exists():
        raise BackupError(f"no database at {live}: run `paperfeed init` first")
    src = _connect(_readonly_uri(live), uri=True)
    out = _connect(dest)
    try:
        # pages=-1 copies everything under one read transaction: a consistent snapshot even
        # while the web and the worker keep writing (WAL lets them go on meanwhile).
        src.backup(out, pages=-1)
        # One self-contained file: no -wal beside it, readable by any sqlite3.
        out.execute("PRAGMA journal_mode=DELETE")
        check = [r[0] for r in out.execute("PRAGMA quick_check")]
        if check != ["ok"]:
            raise BackupError(f"the backup copy failed its check ({'; '.join(check[:3])})")
    finally:
        out.close()
        src.close()


def _sqlite_restore(src: Path, live: Path) -> None:
    backup_conn = _connect(_readonly_uri(src), uri=True)
    try:
        check = [r[0] for r in backup_conn.execute("PRAGMA integrity_check")]
        if check != ["ok"]:
            raise BackupError(f"{src} is damaged ({'; '.join(check[:3])}); use an older backup")
        has_schema = backup_conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ).fetchone()
        if not has_schema:
            raise BackupError(f"{src} is a SQLite file but not a paperfeed database")
        live.parent.mkdir(parents=True, exist_ok=True)
        target = _connect(live)
        try:
            # The backup API writes the pages under the destination's own write lock, so other
            # processes see either the old or the new database, never a half-copied file.
            backup_conn.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    finally:
        backup_conn.close()


# --- PostgreSQL ---


def find_pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program (pg_dump, pg_restore), or BackupError naming the package."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: str) -> int:
        m = re.search(r"/postgresql/(\d+)/", path)
        return int(m.group(1)) if m else 0

    # Debian/Ubuntu keep them per major version; the newest dumps any older server.
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version, reverse=True)
    if candidates:
        return candidates[0]
    raise BackupError(
        f"{name} not found: install the PostgreSQL client (Debian/Ubuntu: apt install "
        "postgresql-client; the same major version as the server or newer) or put it on PATH"
    )


def libpq_url(url: str) -> tuple[str, str | None]:
    """A libpq connection URI for a SQLAlchemy URL, and the schema its search_path selects, if any."""
    plain = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
    query = parse_qs(urlsplit(plain).query)
    schema = None
    for opt in query.get("options", []):
        m = re.search(r"-c\s*search_path\s*=\s*([A-Za-z0-9_]+)", unquote(opt))
        if m:
            schema = m.group(1)
    return plain, schema


def _without_password(url: str) -> tuple[str, dict[str, str]]:
    """The URL minus its password, and the environment passing the password as PGPASSWORD."""
    parsed = sa.engine.make_url(url)
    env = dict(os.environ)
    if parsed.password is None:
        return url, env
    # A password on the command line is visible to every user in `ps`; the environment is not.
    env["PGPASSWORD"] = str(parsed.password)
    return parsed._replace(password=None).render_as_string(hide_password=False), env


def _run(
    args: list[str], what: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=PG_TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        raise BackupError(
            f"{what} did not finish in {PG_TIMEOUT} s; is the server reachable?"
        ) from None
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.strip().split())[:600]
        raise BackupError(f"{what} failed: {detail}")
    return proc


def _pg_dump(db: Database, dest: Path) -> None:
    url, schema = libpq_url(db.url)
    url, env = _without_password(url)
    args = [find_pg_tool("pg_dump"), "--format=custom", f"--file={dest}", f"--dbname={url}"]
    if schema:
        args.append(f"--schema={schema}")
    _run(args, "pg_dump", env)


_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ")


def _pg_restore(db: Database, src: Path) -> None:
    url, schema = libpq_url(db.url)
    tool = find_pg_tool("pg_restore")
    listing = _run([tool, "--list", str(src)], "reading the dump").stdout
    dumped: set[tuple[str, str]] = set()
    for line in listing.splitlines():
        m = _TOC_TABLE.match(line)
        if m:
            dumped.add((m.group(1), m.group(2)))
    if not any(name == "schema_migrations" for _, name in dumped):
        raise BackupError(f"{src} is a pg_dump file but not of a paperfeed database")
    # Tables made after the backup (a later migration) are not in the dump, so --clean would
    # leave them behind and the next upgrade would trip over them: drop them first.
    with db.write() as conn:
        current = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        target = schema or current
        for name in sa.inspect(conn).get_table_names():
            if (target, name) not in dumped:
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{target}"."{name}" CASCADE'))
    db.dispose()
    url, env = _without_password(url)
    _run(
        [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",  # a failed restore leaves the database as it was
            "--exit-on-error",
            f"--dbname={url}",
            str(src),
        ],
        "pg_restore",
        env,
    )

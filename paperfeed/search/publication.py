"""Published keyword-index generations: the worker publishes each, web processes follow the newest."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, PaperfeedError

MANIFEST = "MANIFEST.json"
GENERATION_FILE = "GENERATION.json"  # the generation's own copy of its manifest
PARTIAL = ".partial-"  # a generation being written (or abandoned by a crash): never named
CHUNK = 1 << 20
# Rewritten by every Tantivy commit; every other file of a Tantivy directory is immutable.
MUTABLE = {"meta.json", ".managed.json"}
BACKENDS = ("directory",)
PUBLISHED = "published"  # a web process's own copies of fetched generations, under its search dir
POLL_SECONDS = 1.0  # a web process looks at the manifest at most this often
RETRY_SECONDS = 10.0  # after a failed fetch, the next try waits this long

log = logging.getLogger(__name__)


class PublishError(PaperfeedError):
    """A generation could not be published or fetched (the previous one stays in use)."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a generation: its name, size in bytes and SHA-256."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the manifest names: a complete generation and the store change number it reflects."""

    generation: str
    change_number: int
    docs: int
    files: tuple[FileEntry, ...]
    created: str

    def to_json(self) -> str:
        """The manifest as JSON text."""
        return json.dumps(
            {
                "format": 1,
                "generation": self.generation,
                "change_number": self.change_number,
                "docs": self.docs,
                "files": [[f.name, f.size, f.sha256] for f in self.files],
                "created": self.created,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse manifest text; ValueError when it is not one."""
        data: Any = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ValueError("not a paperfeed index manifest")
        return cls(
            generation=str(data["generation"]),
            change_number=int(data["change_number"]),
            docs=int(data["docs"]),
            files=tuple(FileEntry(str(n), int(s), str(h)) for n, s, h in data["files"]),
            created=str(data["created"]),
        )


class Publisher(Protocol):
    """Where generations are published: a shared directory today, object storage later."""

    def manifest(self) -> Manifest | None:
        """The manifest as published now, or None before the first publish."""
        ...

    def version(self) -> int:
        """A cheap number that changes whenever the manifest is replaced (0 when there is none)."""
        ...

    def lock(self) -> Any:
        """A context manager held by one publisher at a time."""
        ...

    def put(self, source: Path, gen: str, previous: Manifest | None) -> tuple[FileEntry, ...]:
        """Store a generation's files (not yet named by the manifest) and return their entries."""
        ...

    def commit(self, manifest: Manifest) -> None:
        """Name a stored generation in the manifest, atomically."""
        ...

    def fetch(self, manifest: Manifest, name: str, dest: Path) -> None:
        """Copy one file of the generation a manifest names to a local path (not yet verified)."""
        ...

    def collect(self, keep: int) -> list[str]:
        """Delete generations beyond the newest `keep` and abandoned partial ones; returns names."""
        ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_hashed(src: Path, dst: Path) -> str:
    """Copy a file, flushing it to disk, and return its SHA-256."""
    h = hashlib.sha256()
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest()


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's contents."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link when both sit on one file system (the files are immutable), else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def index_files(folder: Path) -> list[Path]:
    """The files of a Tantivy directory worth publishing (not its lock files)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".tantivy-"))


class DirectoryPublisher:
    """Generations as folders of a shared directory (NFS, a mounted volume, or a local path)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest_path = root / MANIFEST

    def manifest(self) -> Manifest | None:
        """The manifest as published now, or None before the first publish."""
        try:
            return Manifest.from_json(self.manifest_path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise PublishError(f"unreadable index manifest {self.manifest_path}: {exc}") from None

    def version(self) -> int:
        """The manifest's modification time and inode (a rename gives a new inode)."""
        try:
            st = self.manifest_path.stat()
        except FileNotFoundError:
            return 0
        return st.st_mtime_ns ^ (st.st_ino << 1)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the publish lock (an flock on the shared directory, released if the process dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "publish.lock").open("a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def put(self, source: Path, gen: str, previous: Manifest | None) -> tuple[FileEntry, ...]:
        """Copy the generation into a partial folder, then rename it to its name."""
        tmp = self.root / f"{PARTIAL}{gen}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        known = {f.name: f for f in previous.files} if previous else {}
        prev_dir = self.root / previous.generation if previous else None
        entries: list[FileEntry] = []
        for src in index_files(source):
            size = src.stat().st_size
            old = known.get(src.name)
            if (
                prev_dir is not None
                and old is not None
                and old.size == size
                and src.name not in MUTABLE
                and (prev_dir / src.name).is_file()
            ):
                # Same immutable segment file as the previous generation: link it, no copy.
                _link_or_copy(prev_dir / src.name, tmp / src.name)
                entries.append(old)
                continue
            digest = _copy_hashed(src, tmp / src.name)
            entries.append(FileEntry(src.name, size, digest))
        _fsync_dir(tmp)
        os.rename(tmp, self.root / gen)
        return tuple(entries)

    def commit(self, manifest: Manifest) -> None:
        """Write the manifest beside the generation and then in its place, each by atomic rename."""
        for path in (self.root / manifest.generation / GENERATION_FILE, self.manifest_path):
            tmp = path.with_name(path.name + ".tmp")
            with tmp.open("w") as f:
                f.write(manifest.to_json())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        _fsync_dir(self.root)

    def fetch(self, manifest: Manifest, name: str, dest: Path) -> None:
        """Hard-link (same file system) or copy one file of the generation to dest."""
        try:
            _link_or_copy(self.root / manifest.generation / name, dest)
        except FileNotFoundError:
            raise PublishError(
                f"generation {manifest.generation} lost {name} (collected meanwhile?)"
            ) from None

    def generations(self) -> list[str]:
        """The complete generation folders, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name.startswith("g"))

    def collect(self, keep: int) -> list[str]:
        """Delete all but the newest `keep` generations (never the named one) and partial folders."""
        named = self.manifest()
        gens = self.generations()
        keep_set = set(gens[-max(keep, 1) :])
        if named is not None:
            keep_set.add(named.generation)
        gone = [g for g in gens if g not in keep_set]
        # Callers hold the publish lock, so a partial folder is one a crashed publisher left.
        gone += [p.name for p in self.root.iterdir() if p.name.startswith(PARTIAL)]
        for name in gone:
            shutil.rmtree(self.root / name, ignore_errors=True)
        return gone


def publisher_for(settings: Settings) -> Publisher | None:
    """The publisher the settings name, or None in the embedded default (no publish dir)."""
    where = settings.index_publish_dir.strip()
    if not where:
        return None
    scheme = where.split("://", 1)[0] if "://" in where else "directory"
    if scheme == "file":
        where, scheme = where.removeprefix("file://"), "directory"
    if scheme != "directory":
        raise ConfigError(
            f"PAPERFEED_INDEX_PUBLISH_DIR={where!r}: unknown publish backend {scheme!r}; "
            f"valid: {', '.join(BACKENDS)} (a path or file:// URL)"
        )
    return DirectoryPublisher(Path(where))


def publish(
    pub: Publisher,
    source: Path,
    *,
    change_number: int,
    docs: int,
    keep: int,
    changed: bool = False,
    rebuilt: bool = False,
) -> Manifest | None:
    """Publish a finished Tantivy folder as a new generation; None when nothing is newer.

    `changed` says the folder was written since the last publish (a rebuild keeps the change
    number but may change the documents' fields); `rebuilt` says it was built from scratch and
    replaces even a higher change number (after a restore the store's counter is lower).
    """
    with pub.lock():
        current = pub.manifest()
        if (
            current is not None
            and not rebuilt
            and (
                current.change_number > change_number
                or (current.change_number == change_number and current.docs == docs and not changed)
            )
        ):
            return None  # already published (or another worker published a newer one)
        gen = f"g{time.time_ns()}"
        files = pub.put(source, gen, current)
        manifest = Manifest(
            generation=gen,
            change_number=change_number,
            docs=docs,
            files=files,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        pub.commit(manifest)
        gone = pub.collect(keep)
    log.info(
        "published keyword index %s (%d papers, change %d); collected %d old",
        gen,
        docs,
        change_number,
        len(gone),
    )
    return manifest


def verify(folder: Path, manifest: Manifest, *, trusted: frozenset[str] = frozenset()) -> None:
    """Check that a fetched folder holds the manifest's files, sizes and (unless trusted) checksums."""
    for f in manifest.files:
        path = folder / f.name
        if not path.is_file() or path.stat().st_size != f.size:
            raise PublishError(f"fetched {manifest.generation}: {f.name} is missing or truncated")
        if f.name not in trusted and sha256_of(path) != f.sha256:
            raise PublishError(f"fetched {manifest.generation}: {f.name} has the wrong checksum")


class Follower:
    """A web process's side: fetch the newest published generation into its own folder, switch."""

    def __init__(self, pub: Publisher, lexical_root: Path, *, keep_local: int = 2) -> None:
        self.pub = pub
        self.root = lexical_root
        self.current = lexical_root / "CURRENT"
        self.keep_local = max(keep_local, 1)
        self._seen = -1
        self._next_poll = 0.0
        self._busy = threading.Lock()

    def local_generation(self) -> str | None:
        """The generation this process serves now, or None before the first fetch."""
        try:
            name = self.current.read_text().strip()
        except FileNotFoundError:
            return None
        return name or None

    def poll(self) -> None:
        """When the manifest changed, fetch in a background thread; queries keep the old one."""
        now = time.monotonic()
        if now < self._next_poll or self._busy.locked():
            return
        self._next_poll = now + POLL_SECONDS
        version = self.pub.version()
        if version == self._seen:
            return
        threading.Thread(target=self._fetch_quietly, args=(version,), daemon=True).start()

    def _fetch_quietly(self, version: int) -> None:
        try:
            self.follow(version)
            return
        except PaperfeedError as exc:
            log.warning("keyword index not fetched (still serving the previous one): %s", exc)
        except Exception:
            log.exception("keyword index fetch failed")
        self._next_poll = time.monotonic() + RETRY_SECONDS

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        """One fetcher per local folder across the machine's processes; False when another has it."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not self._busy.acquire(blocking=False):
            yield False
            return
        try:
            with (self.root / "fetch.lock").open("a+") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
        finally:
            self._busy.release()

    def follow(self, version: int | None = None) -> str | None:
        """Fetch, verify and switch to the manifest's generation if it is new; returns its name."""
        version = self.pub.version() if version is None else version
        with self._exclusive() as mine:
            if not mine:
                return None
            manifest = self.pub.manifest()
            if manifest is None or manifest.generation == self.local_generation():
                self._seen = version
                return None
            dest = self.root / manifest.generation
            if not dest.is_dir():
                tmp = self.root / f"{PARTIAL}{manifest.generation}"
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir()
                try:
                    trusted = self._fetch_into(manifest, tmp)
                    verify(tmp, manifest, trusted=trusted)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
                os.rename(tmp, dest)
            meta = self.root / f"{manifest.generation}.json"
            meta.write_text(
                json.dumps({"rev": manifest.change_number, "manifest": manifest.to_json()})
            )
            # Readers switch when they see CURRENT change; the old folder stays for queries
            # still running on it and goes at a later switch.
            tmp_cur = self.root / "CURRENT.tmp"
            tmp_cur.write_text(manifest.generation)
            os.replace(tmp_cur, self.current)
            self._seen = version
            self._collect_local(manifest.generation)
        log.info("switched to keyword index %s (change %d)", dest.name, manifest.change_number)
        return manifest.generation

    def _fetch_into(self, manifest: Manifest, folder: Path) -> frozenset[str]:
        """Fetch the manifest's files, linking those the live local copy already has (verified then)."""
        have: dict[str, FileEntry] = {}
        live = self.local_generation()
        if live is not None:
            try:
                meta = json.loads((self.root / f"{live}.json").read_text())
                have = {f.name: f for f in Manifest.from_json(meta["manifest"]).files}
            except (FileNotFoundError, ValueError, KeyError, TypeError):
                have = {}
        trusted: set[str] = set()
        for f in manifest.files:
            if have.get(f.name) == f and f.name not in MUTABLE:
                try:
                    os.link(self.root / str(live) / f.name, folder / f.name)
                    trusted.add(f.name)
                    continue
                except OSError:
                    pass
            self.pub.fetch(manifest, f.name, folder / f.name)
        return frozenset(trusted)

    def _collect_local(self, live: str) -> None:
        """Delete this process's old local copies, keeping the newest `keep_local` (live included)."""
        gens = sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name.startswith("g"))
        keep = set(gens[-self.keep_local :]) | {live}
        for name in gens:
            if name not in keep:
                shutil.rmtree(self.root / name, ignore_errors=True)
                (self.root / f"{name}.json").unlink(missing_ok=True)
        for p in self.root.iterdir():
            if p.name.startswith(PARTIAL):
                shutil.rmtree(p, ignore_errors=True)


def follower_for(settings: Settings, search_root: Path) -> Follower | None:
    """The follower of a web process in publish mode (None in the embedded default)."""
    pub = publisher_for(settings)
    return None if pub is None else Follower(pub, search_root / PUBLISHED)

"""Publish mode in one process: the worker publishes generations, followers fetch, verify, switch."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from _search_helpers import PAPERS, load, settings_for

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.models import Paper
from paperfeed.search import search
from paperfeed.search import service as service_mod
from paperfeed.search.publication import (
    MANIFEST,
    PARTIAL,
    DirectoryPublisher,
    Follower,
    Manifest,
    PublishError,
    publisher_for,
)
from paperfeed.search.service import SearchEngine, SearchUnavailable
from paperfeed.search.sync import run_index, search_dir
from paperfeed.store import Database
from paperfeed.store.papers import upsert_papers
from paperfeed.web.metrics import index_rev

NEW = Paper(
    id="2506.00006",
    title="Quantum Chromodynamics on a Lattice",
    abstract="We compute hadron masses with lattice quantum chromodynamics.",
    authors=["Kenneth Wilson"],
    categories=["hep-lat"],
)


def ids(res: object) -> list[str]:
    return [h.paper_id for h in res.hits]  # type: ignore[attr-defined]


def _worker(db: Database, tmp: Path, shared: Path) -> Settings:
    return settings_for(db, tmp / "worker", index_publish_dir=str(shared))


def _web(db: Database, tmp: Path, shared: Path, name: str) -> Settings:
    return settings_for(db, tmp / name, index_publish_dir=str(shared))


def _engine(settings: Settings) -> SearchEngine:
    return SearchEngine(search_dir(settings), settings)


def _ids(eng: SearchEngine, text: str) -> list[str]:
    from paperfeed.search.query import parse

    eng.refresh()
    return [h.paper_id for h in eng.lexical.search(parse(text), limit=10).hits]


def test_publish_then_follow_switches_and_verifies(sqlite_db: Database, tmp_path: Path) -> None:
    db, shared = sqlite_db, tmp_path / "shared"
    load(db)
    stats = run_index(db, _worker(db, tmp_path, shared), embed=False)
    assert stats.published is not None
    manifest = DirectoryPublisher(shared).manifest()
    assert manifest is not None and manifest.generation == stats.published
    assert manifest.docs == len(PAPERS) and manifest.change_number == stats.lexical_rev
    assert {f.name for f in manifest.files} >= {"meta.json"}
    assert all(len(f.sha256) == 64 and f.size >= 0 for f in manifest.files)
    # Nothing new: the next run publishes nothing and the manifest stays.
    assert run_index(db, _worker(db, tmp_path, shared), embed=False).published is None
    # A rebuild keeps the change number but rewrites every document: it is published.
    rebuilt = run_index(db, _worker(db, tmp_path, shared), embed=False, rebuild=True).published
    assert rebuilt is not None and rebuilt != manifest.generation
    manifest = DirectoryPublisher(shared).manifest()
    assert manifest is not None and manifest.generation == rebuilt

    web = _web(db, tmp_path, shared, "web1")
    eng = _engine(web)
    with pytest.raises(SearchUnavailable):
        _ = eng.lexical  # nothing fetched yet
    follower = eng.follower
    assert follower is not None
    assert follower.follow() == manifest.generation
    assert _ids(eng, "diffusion video")[0] == "2402.00002"
    assert index_rev(web) == manifest.change_number  # /admin/status and the lag metric
    # The web process never built an index of its own: only the fetched copy exists.
    assert not (search_dir(web) / "lexical").exists()
    assert (search_dir(web) / "published" / manifest.generation).is_dir()

    with db.write() as conn:
        upsert_papers(conn, [NEW])
    second = run_index(db, _worker(db, tmp_path, shared), embed=False).published
    assert second is not None and second != manifest.generation
    assert _ids(eng, "lattice chromodynamics") == []  # not fetched yet: the old generation
    assert follower.follow() == second
    assert _ids(eng, "lattice chromodynamics") == [NEW.id]
    # Through the search service as a page request does it (background fetch on refresh).
    res = search(db, web, "lattice", mode="lexical")
    assert ids(res) == [NEW.id]


def test_unchanged_segments_are_linked_not_copied(sqlite_db: Database, tmp_path: Path) -> None:
    db, shared = sqlite_db, tmp_path / "shared"
    load(db)
    first = run_index(db, _worker(db, tmp_path, shared), embed=False).published
    with db.write() as conn:
        upsert_papers(conn, [NEW])
    second = run_index(db, _worker(db, tmp_path, shared), embed=False).published
    assert first and second
    shared_inodes = {p.name: p.stat().st_ino for p in (shared / first).iterdir()}
    linked = [
        p for p in (shared / second).iterdir() if shared_inodes.get(p.name) == p.stat().st_ino
    ]
    assert linked, "the first generation's segment files are reused by the second"
    assert all(p.name not in ("meta.json", ".managed.json") for p in linked)


def test_corrupt_fetch_keeps_the_old_generation(sqlite_db: Database, tmp_path: Path) -> None:
    db, shared = sqlite_db, tmp_path / "shared"
    load(db)
    first = run_index(db, _worker(db, tmp_path, shared), embed=False).published
    first_manifest = DirectoryPublisher(shared).manifest()
    assert first_manifest is not None
    # Copying (not linking) lets a corrupted shared file reach the reader: the checksum sees it.
    web = _web(db, tmp_path, shared, "web1")
    eng = _engine(web)
    assert eng.follower is not None and eng.follower.follow() == first
    with db.write() as conn:
        upsert_papers(conn, [NEW])
    second = run_index(db, _worker(db, tmp_path, shared), embed=False).published
    assert second
    before = {f.name for f in first_manifest.files}
    manifest = DirectoryPublisher(shared).manifest()
    assert manifest is not None
    # A file new in this generation (unchanged ones are linked from the verified local copy).
    victim = max((f for f in manifest.files if f.name not in before), key=lambda f: f.size)
    path = shared / second / victim.name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.unlink()  # a new inode: the first generation's hard links keep the good bytes
    path.write_bytes(bytes(data))
    with pytest.raises(PublishError, match="checksum"):
        eng.follower.follow()
    assert eng.follower.local_generation() == first
    assert not any(p.name.startswith(PARTIAL) for p in (search_dir(web) / "published").iterdir())
    assert _ids(eng, "diffusion video")[0] == "2402.00002"


def test_partial_generation_is_never_followed_and_is_collected(
    sqlite_db: Database, tmp_path: Path
) -> None:
    db, shared = sqlite_db, tmp_path / "shared"
    load(db)
    first = run_index(db, _worker(db, tmp_path, shared), embed=False).published
    assert first
    # A publisher that died mid-copy: a partial folder, the manifest untouched.
    crashed = shared / f"{PARTIAL}g9999999999999999999"
    crashed.mkdir()
    (crashed / "meta.json").write_text("{")
    web = _web(db, tmp_path, shared, "web1")
    eng = _engine(web)
    assert eng.follower is not None and eng.follower.follow() == first
    # Three more publishes with keep=2: the oldest two go, the named one and the newest stay.
    gens = [first]
    for i in range(3):
        with db.write() as conn:
            upsert_papers(conn, [Paper(id=f"2507.0000{i}", title=f"Extra paper {i}", abstract="x")])
        worker = _worker(db, tmp_path, shared).with_(index_publish_keep=2)
        gen = run_index(db, worker, embed=False).published
        assert gen
        gens.append(gen)
    left = DirectoryPublisher(shared).generations()
    assert left == gens[-2:]
    assert not crashed.exists()
    assert eng.follower.follow() == gens[-1]
    # The web process keeps two local copies (the live one and the previous) and deletes older.
    assert eng.follower.follow() is None
    local = sorted(p.name for p in (search_dir(web) / "published").iterdir() if p.is_dir())
    assert local == [first, gens[-1]]


def test_a_newer_manifest_is_never_replaced_by_an_older_change(
    sqlite_db: Database, tmp_path: Path
) -> None:
    db, shared = sqlite_db, tmp_path / "shared"
    load(db)
    gen = run_index(db, _worker(db, tmp_path, shared), embed=False).published
    path = shared / MANIFEST
    data = json.loads(path.read_text())
    data["change_number"] += 1000  # as if another worker had published a later change
    path.write_text(json.dumps(data))
    with db.write() as conn:
        upsert_papers(conn, [NEW])
    assert run_index(db, _worker(db, tmp_path, shared), embed=False).published is None
    m = Manifest.from_json(path.read_text())
    assert m.generation == gen
    # A rebuild (as after restoring an older backup, whose counter is lower) replaces it.
    rebuilt = run_index(db, _worker(db, tmp_path, shared), embed=False, rebuild=True).published
    assert rebuilt is not None and Manifest.from_json(path.read_text()).generation == rebuilt


def test_background_poll_switches_without_blocking(sqlite_db: Database, tmp_path: Path) -> None:
    db, shared = sqlite_db, tmp_path / "shared"
    load(db)
    run_index(db, _worker(db, tmp_path, shared), embed=False)
    web = _web(db, tmp_path, shared, "web1")
    eng = _engine(web)
    assert eng.follower is not None
    done = threading.Event()
    original = eng.follower.follow

    def follow(version: int | None = None) -> str | None:
        try:
            return original(version)
        finally:
            done.set()

    eng.follower.follow = follow  # type: ignore[method-assign]
    eng.refresh()  # starts the fetch in a thread and returns at once
    assert done.wait(30)
    assert _ids(eng, "diffusion video")[0] == "2402.00002"


def test_embedded_default_publishes_nothing(sqlite_db: Database, tmp_path: Path) -> None:
    load(sqlite_db)
    s = settings_for(sqlite_db, tmp_path)
    assert publisher_for(s) is None
    assert run_index(sqlite_db, s, embed=False).published is None
    assert service_mod.SearchEngine(search_dir(s), s).follower is None
    assert ids(search(sqlite_db, s, "diffusion video", mode="lexical"))[0] == "2402.00002"


def test_unknown_publish_backend_names_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory"):
        publisher_for(Settings(index_publish_dir="s3://bucket/index"))
    pub = publisher_for(Settings(index_publish_dir=f"file://{tmp_path}"))
    assert isinstance(pub, DirectoryPublisher) and pub.root == tmp_path


def test_follower_without_manifest_serves_nothing_yet(tmp_path: Path) -> None:
    f = Follower(DirectoryPublisher(tmp_path / "shared"), tmp_path / "local")
    assert f.follow() is None and f.local_generation() is None


def test_follower_links_unchanged_files_from_its_live_copy(
    sqlite_db: Database, tmp_path: Path
) -> None:
    db, shared = sqlite_db, tmp_path / "shared"
    load(db)
    first = run_index(db, _worker(db, tmp_path, shared), embed=False).published
    f = Follower(DirectoryPublisher(shared), tmp_path / "local")
    assert f.follow() == first
    with db.write() as conn:
        upsert_papers(conn, [NEW])
    second = run_index(db, _worker(db, tmp_path, shared), embed=False).published
    fetched: list[str] = []
    real = f.pub.fetch

    def counting(manifest: Manifest, name: str, dest: Path) -> None:
        fetched.append(name)
        real(manifest, name, dest)

    f.pub.fetch = counting  # type: ignore[method-assign]
    assert f.follow() == second
    m = DirectoryPublisher(shared).manifest()
    assert m is not None and set(fetched) < {x.name for x in m.files}
    assert "meta.json" in fetched  # rewritten by every commit: always fetched

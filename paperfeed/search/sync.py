"""Derived search indexes follow the store: embed missing vectors, catch indexes up by watermark."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError
from paperfeed.search import ann_pgvector
from paperfeed.search import keywords as keyphrases
from paperfeed.search.ann import configured, resolve
from paperfeed.search.embed import Embedder, get_embedder, paper_text, text_hash, token_states
from paperfeed.search.lexical import SOURCE_FIELD, TEXT_FIELDS, Body, LexicalIndex, paper_key
from paperfeed.search.publication import publish, publisher_for
from paperfeed.search.vectors import VectorIndex, from_bytes, to_bytes
from paperfeed.store import fulltexts as store_fulltexts
from paperfeed.store import keywords as store_keywords
from paperfeed.store import papers as store_papers
from paperfeed.store import pgvectors as store_pgvectors
from paperfeed.store import vectors as store_vectors
from paperfeed.store.db import Database

LEXICAL_BATCH = 5000  # papers per Tantivy commit: a crash redoes at most this many
BODY_CHUNK = 200  # papers whose full text is read at once (60-300 KB of stored JSON each)
VECTOR_BATCH = 5000  # vectors read from the store per round trip
ANN_SAVE_EVERY = 100_000  # vectors added between intermediate saves of the ANN file
EMBED_CHUNK = 256  # papers embedded per store write: a crash re-embeds at most this many
PROGRESS_LOG_SECONDS = 5.0  # at most one "embedded N of M" log line per this many seconds

log = logging.getLogger(__name__)


def search_dir(settings: Settings) -> Path:
    """The folder holding this instance's search indexes."""
    return settings.derived_dir / "search"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Layout:
    """Where the index files live: lexical/CURRENT names the live Tantivy generation."""

    def __init__(self, root: Path, lexical: str = "lexical") -> None:
        self.root = root
        self.lexical_root = root / lexical  # "published" for a web process in publish mode
        self.current = self.lexical_root / "CURRENT"
        self.ann = root / "vectors.usearch"
        self.ann_meta = root / "vectors.json"
        self.lock = root / "indexer.lock"
        self.building = self.lexical_root / "BUILDING.json"
        self.progress = root / "embedding.json"

    def lexical_generation(self) -> str | None:
        """The live Tantivy generation's folder name, or None before the first index run."""
        try:
            name = self.current.read_text().strip()
        except FileNotFoundError:
            return None
        return name if name and (self.lexical_root / name).is_dir() else None

    def lexical_meta(self, gen: str) -> Path:
        """The watermark file of a generation."""
        return self.lexical_root / f"{gen}.json"


class IndexerBusy(PaperfeedError):
    """Another indexer holds the lock; the caller can simply try again later."""


@contextmanager
def indexer_lock(layout: Layout) -> Iterator[None]:
    """Hold the one-indexer-at-a-time lock (released by the OS if the process dies)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexerBusy(
                "another indexer is running (`paperfeed index`, the worker's index job, or the "
                f"start-up indexing of `paperfeed serve`; lock {layout.lock}): wait for it to "
                "finish, or start serve with PAPERFEED_INDEX_ON_START=0"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass(slots=True)
class IndexStats:
    """What one index run did."""

    lexical_rev: int = 0
    lexical_changed: int = 0
    lexical_docs: int = 0
    embedded: int = 0
    unchanged_text: int = 0
    vectors: int = 0
    ann_changed: int = 0
    rebuilt: bool = False
    keywords: int = 0  # papers whose keywords were extracted this run
    published: str | None = None  # the generation this run published (publish mode)


Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True, slots=True)
class EmbedProgress:
    """How far a running indexer has embedded: done of total papers."""

    done: int
    total: int


def read_progress(layout: Layout) -> EmbedProgress | None:
    """The embedding progress of an indexer running now (any process), or None when none is."""
    data = _read_json(layout.progress)
    pid = data.get("pid")
    if data.get("finished", True) or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)  # a crashed indexer leaves its file behind: only a live one counts
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return EmbedProgress(int(data.get("done", 0)), int(data.get("total", 0)))


def _tracked(layout: Layout, inner: Progress | None) -> Progress:
    """A progress callback that records progress for the search page and logs it every few seconds."""
    last_log = [float("-inf"), -1.0]  # when, and at which count, the last line was logged

    def update(done: int, total: int) -> None:
        _write_json(
            layout.progress, {"pid": os.getpid(), "done": done, "total": total, "finished": False}
        )
        now = time.monotonic()
        due = done >= total or now - last_log[0] >= PROGRESS_LOG_SECONDS
        if due and done != last_log[1]:
            log.info("embedded %d of %d papers", done, total)
            last_log[:] = [now, done]
        if inner is not None:
            inner(done, total)

    return update


def _bodies(conn: Any, paper_ids: list[str]) -> dict[str, Body]:
    """The full-text sections of these papers as (label, text) pairs, for the body field."""
    found = store_fulltexts.sections_of(conn, paper_ids)
    return {pid: [(s.label, s.text) for s in secs if s.text] for pid, secs in found.items()}


def sync_lexical(db: Database, layout: Layout, *, rebuild: bool = False) -> tuple[int, int, int]:
    """Bring the Tantivy index up to the store's paper watermark; returns (rev, changed, docs)."""
    layout.lexical_root.mkdir(parents=True, exist_ok=True)
    gen = None if rebuild else layout.lexical_generation()
    fields = [*TEXT_FIELDS, SOURCE_FIELD]
    if gen is not None and not LexicalIndex(layout.lexical_root / gen).has_fields(fields):
        gen = None  # built before a field existed (the full-text body, the source): build anew
    fresh = gen is None
    if gen is None:
        # A new generation is invisible to readers until complete; a build that crashed
        # resumes from its own watermark (unless a rebuild was asked for).
        pending = _read_json(layout.building).get("gen")
        if not rebuild and pending and (layout.lexical_root / pending).is_dir():
            gen = str(pending)
        else:
            gen = f"g{time.time_ns()}"
            _write_json(layout.building, {"gen": gen})
            _write_json(layout.lexical_meta(gen), {"rev": 0})
    ix = LexicalIndex(layout.lexical_root / gen, create=True)
    meta = layout.lexical_meta(gen)
    rev = int(_read_json(meta).get("rev", 0))
    changed = 0
    writer = ix.writer()
    try:
        while True:
            with db.read() as conn:
                rows = store_papers.changed_since(conn, rev, limit=LEXICAL_BATCH)
            if not rows:
                break
            for i in range(0, len(rows), BODY_CHUNK):
                part = rows[i : i + BODY_CHUNK]
                with db.read() as conn:
                    bodies = _bodies(conn, [p.id for _, p, hidden in part if not hidden])
                ix.apply(writer, [(p, hidden) for _, p, hidden in part], bodies)
            writer.commit()
            # The watermark moves only after Tantivy committed: a crash in between redoes the
            # batch, and replacing a paper's document is idempotent.
            rev = rows[-1][0]
            changed += len(rows)
            _write_json(meta, {"rev": rev})
        writer.wait_merging_threads()
    except BaseException:
        writer.rollback()
        raise
    if not meta.exists():
        _write_json(meta, {"rev": rev})
    if fresh:
        # Switch readers to the new generation in one atomic rename, then drop old ones.
        tmp = layout.current.with_name("CURRENT.tmp")
        tmp.write_text(gen)
        os.replace(tmp, layout.current)
        layout.building.unlink(missing_ok=True)
        for old in layout.lexical_root.iterdir():
            if old.name.startswith("g") and old.name not in (gen, f"{gen}.json"):
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)
    ix.reload()
    return rev, changed, ix.num_docs


def embed_missing(
    db: Database,
    embedder: Embedder,
    *,
    batch: int = 32,
    limit: int | None = None,
    progress: Progress | None = None,
    after_rev: int = 0,
    upto_rev: int | None = None,
    keywords: SharedKeywords | None = None,
) -> tuple[int, int]:
    """Embed visible papers lacking a current vector, saving every chunk; returns (embedded, unchanged).

    With keywords (and an embedder with token states) the same model pass ranks the papers'
    keyphrases, so `sync_keywords` afterwards has none of these papers left to extract.
    after_rev/upto_rev: a queued job's share of the backlog (jobs: worker.py plans them).
    """
    share = keywords is not None and callable(getattr(embedder, "token_states", None))
    with db.read() as conn:
        total = store_vectors.count_to_embed(
            conn, embedder.name, after_rev=after_rev, upto_rev=upto_rev
        )
    if limit is not None:
        total = min(total, limit)
    done = embedded = unchanged = 0
    after = after_rev
    if progress:
        progress(0, total)
    while done < total:
        with db.read() as conn:
            cands = store_vectors.papers_to_embed(
                conn,
                embedder.name,
                after_rev=after,
                upto_rev=upto_rev,
                limit=min(EMBED_CHUNK, total - done),
            )
        if not cands:
            break
        after = cands[-1].rev
        todo: list[tuple[str, str, int]] = []
        touch: list[tuple[str, int]] = []
        texts = {c.paper_id: (c.title, c.abstract) for c in cands}
        for c in cands:
            text = paper_text(c.title, c.abstract)
            h = text_hash(text)
            if c.model == embedder.name and c.text_hash == h:
                touch.append((c.paper_id, c.rev))  # a vote or flag changed, not the text
            else:
                todo.append((c.paper_id, text, c.rev))
        rows: list[tuple[str, bytes, str, int]] = []
        found: dict[str, tuple[tuple[str, str], list[keyphrases.Keyword]]] = {}
        # Similar lengths in one model call waste less padding (the texts are truncated anyway).
        todo.sort(key=lambda t: len(t[1]))
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            if share:
                vecs, kws = _embed_with_keywords(embedder, [texts[pid] for pid, _, _ in part])
                found.update(
                    (pid, (texts[pid], k)) for (pid, _, _), k in zip(part, kws, strict=True)
                )
            else:
                vecs = embedder.embed([t for _, t, _ in part])
            rows += [
                (pid, to_bytes(v), text_hash(t), rev)
                for (pid, t, rev), v in zip(part, vecs, strict=True)
            ]
            if progress:
                # Per model call too: a 256-paper chunk can take a minute on a busy CPU.
                progress(done + len(touch) + len(rows), total)
        with db.write() as conn:
            store_vectors.save_vectors(conn, embedder.name, embedder.dim, rows)
            store_vectors.touch_vectors(conn, touch)
            if keywords is not None:
                keywords.made += save_shared_keywords(conn, embedder, found)
                keywords.ids.extend(found)
        embedded += len(rows)
        unchanged += len(touch)
        done += len(cands)
        if progress:
            progress(done, total)
    return embedded, unchanged


# --- keywords (issue 16): every visible paper's keyphrases follow its text ---


def keyword_extractor(embedder: Embedder) -> str:
    """The name stored with each keyword run: a changed name means extracting again."""
    return f"{keyphrases.VERSION}:{embedder.name}"


@dataclass(slots=True)
class SharedKeywords:
    """Asks embed_missing to make keyphrases in its model pass, and counts the papers done."""

    made: int = 0
    ids: list[str] = field(default_factory=list)  # whose keyphrases changed: to reindex


def _embed_with_keywords(
    embedder: Embedder, papers: list[tuple[str, str]]
) -> tuple[np.ndarray, list[list[keyphrases.Keyword]]]:
    """One model pass for (title, abstract) pairs: their vectors and their keyphrases."""
    states = token_states(embedder, [paper_text(t, a) for t, a in papers])
    vecs = np.stack([s.pooled for s in states]) if states else np.zeros((0, embedder.dim))
    return vecs.astype(np.float32), keyphrases.extract_with_states(papers, states)


def save_shared_keywords(
    conn: Any,
    embedder: Embedder,
    found: dict[str, tuple[tuple[str, str], list[keyphrases.Keyword]]],
) -> int:
    """Store keyphrases made in the embedding pass (papers whose text is still that); how many."""
    name = keyword_extractor(embedder)
    runs: list[tuple[str, str, str, int]] = []
    for c in store_keywords.candidates_among(conn, name, list(found)):
        (title, abstract), kws = found[c.paper_id]
        if (c.title, c.abstract) != (title, abstract):
            continue  # edited since it was read: sync_keywords extracts it again
        _save_keywords(conn, c, kws)
        runs.append((c.paper_id, name, _keyword_hash(c), c.rev))
    store_keywords.record_run(conn, runs)
    return len(runs)


def _keyword_hash(c: store_keywords.KeywordCandidate) -> str:
    return text_hash(paper_text(c.title, c.abstract) + "\x00" + "\x00".join(c.ai_keywords))


def _save_keywords(
    conn: Any, c: store_keywords.KeywordCandidate, kws: list[keyphrases.Keyword]
) -> None:
    store_keywords.save_keywords(conn, c.paper_id, "local", [(k.phrase, k.score) for k in kws])
    n = len(c.ai_keywords)
    store_keywords.save_keywords(
        conn, c.paper_id, "hf", [(k, float(n - i)) for i, k in enumerate(c.ai_keywords)]
    )


def sync_keywords(
    db: Database, embedder: Embedder, *, batch: int = 32, changed: list[str] | None = None
) -> int:
    """Extract keywords of papers whose text is new or changed, copy HF's; returns how many."""
    name = keyword_extractor(embedder)
    after = done = 0
    while True:
        with db.read() as conn:
            cands = store_keywords.papers_to_extract(conn, name, after_rev=after, limit=EMBED_CHUNK)
        if not cands:
            return done
        after = cands[-1].rev
        todo = []
        runs: list[tuple[str, str, str, int]] = []
        for c in cands:
            h = _keyword_hash(c)
            if c.extractor != name or c.text_hash != h:
                todo.append(c)
            runs.append((c.paper_id, name, h, c.rev))
        found: list[list[keyphrases.Keyword]] = []
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            found += keyphrases.extract_many(embedder, [(c.title, c.abstract) for c in part])
        with db.write() as conn:
            for c, kws in zip(todo, found, strict=True):
                _save_keywords(conn, c, kws)
            store_keywords.record_run(conn, runs)
        done += len(todo)
        if changed is not None:
            changed.extend(c.paper_id for c in todo)


def reindex_papers(db: Database, layout: Layout, paper_ids: list[str]) -> int:
    """Rewrite these papers' documents in the live keyword index (their keyphrases changed)."""
    gen = layout.lexical_generation()
    if gen is None or not paper_ids:
        return 0
    ix = LexicalIndex(layout.lexical_root / gen)
    writer = ix.writer()
    done = 0
    try:
        for i in range(0, len(paper_ids), BODY_CHUNK):
            part = paper_ids[i : i + BODY_CHUNK]
            with db.read() as conn:
                found = store_papers.get_papers(conn, part)  # with their new local keywords
                bodies = _bodies(conn, list(found))
            # Papers hidden meanwhile are absent here; the next pass over changes deletes them.
            done += ix.apply(writer, [(p, False) for p in found.values()], bodies)
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        writer.rollback()
        raise
    return done


def sync_vectors(
    db: Database, layout: Layout, model: str, dim: int, *, rebuild: bool = False
) -> tuple[int, int]:
    """Bring the ANN index up to the store's vectors and hidden flags; returns (size, changed)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    meta = _read_json(layout.ann_meta)
    fresh = (
        rebuild
        or not layout.ann.exists()
        or meta.get("model") != model
        or int(meta.get("dim", 0)) != dim
    )
    if fresh:
        ix = VectorIndex(dim)
        vrev = prev = 0
    else:
        ix = VectorIndex.load(layout.ann)
        vrev = int(meta.get("vector_rev", 0))
        prev = int(meta.get("paper_rev", 0))
    with db.read() as conn:
        paper_top = store_papers.max_rev(conn)
    changed = since_save = 0

    def save() -> None:
        ix.save(layout.ann)
        _write_json(
            layout.ann_meta, {"model": model, "dim": dim, "vector_rev": vrev, "paper_rev": prev}
        )

    while True:
        with db.read() as conn:
            rows = store_vectors.vectors_changed_since(conn, vrev, model, limit=VECTOR_BATCH)
        if not rows:
            break
        ix.remove([paper_key(r.paper_id) for r in rows if r.hidden])
        live = [r for r in rows if not r.hidden]
        if live:
            ix.upsert(
                [paper_key(r.paper_id) for r in live],
                np.stack([from_bytes(r.vector) for r in live]),
            )
        vrev = rows[-1].rev
        changed += len(rows)
        since_save += len(rows)
        if since_save >= ANN_SAVE_EVERY:
            save()
            since_save = 0
    if fresh:
        prev = paper_top  # a fresh index was built from current hidden flags
    # Papers hidden or shown again since the last run.
    while True:
        with db.read() as conn:
            prows = store_papers.changed_since(conn, prev, limit=LEXICAL_BATCH)
            shown = [p.id for _, p, hidden in prows if not hidden]
            have = store_vectors.has_vectors(conn, shown, model) if shown else set()
            back = [
                (pid, store_vectors.get_vector(conn, pid, model))
                for pid in have
                if not ix.index.contains(paper_key(pid))
            ]
        if not prows:
            break
        ix.remove([paper_key(p.id) for _, p, hidden in prows if hidden])
        back_ok = [(pid, v) for pid, v in back if v is not None]
        if back_ok:
            ix.upsert(
                [paper_key(p) for p, _ in back_ok], np.stack([from_bytes(v) for _, v in back_ok])
            )
        changed += sum(1 for _, _, hidden in prows if hidden) + len(back_ok)
        prev = prows[-1][0]
    if changed or fresh or not layout.ann_meta.exists():
        save()
    return len(ix), changed


def vector_backend(db: Database, settings: Settings) -> str:
    """The indexer's backend: on PostgreSQL it creates the vector extension and table if it may."""
    if configured(settings) == "usearch" or db.dialect != "postgresql":
        return resolve(settings, pgvector_available=False)
    with db.write() as conn:
        ok = store_pgvectors.ensure_schema(conn)
    return resolve(settings, pgvector_available=ok)


def run_index(
    db: Database,
    settings: Settings,
    *,
    rebuild: bool = False,
    embed: bool = True,
    batch: int | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> IndexStats:
    """One indexing run: keyword index first (so search works at once), then vectors, then ANN."""
    layout = Layout(search_dir(settings))
    stats = IndexStats(rebuilt=rebuild)
    with indexer_lock(layout):
        stats.lexical_rev, stats.lexical_changed, stats.lexical_docs = sync_lexical(
            db, layout, rebuild=rebuild
        )
        stats.published = publish_lexical(
            layout,
            settings,
            stats.lexical_rev,
            stats.lexical_docs,
            changed=stats.lexical_changed,
            rebuilt=rebuild,
        )
        if not embed:
            return stats
        emb = embedder or get_embedder(
            settings.embed_model, threads=settings.embed_threads, providers=settings.embed_providers
        )
        shared = SharedKeywords()
        try:
            stats.embedded, stats.unchanged_text = embed_missing(
                db,
                emb,
                batch=batch or settings.embed_batch,
                limit=limit,
                progress=_tracked(layout, progress),
                keywords=shared,  # one model pass makes both a paper's vector and keywords
            )
            if vector_backend(db, settings) == "pgvector":
                stats.vectors, stats.ann_changed = ann_pgvector.sync(
                    db, settings, emb.name, emb.dim, rebuild=rebuild
                )
            else:
                stats.vectors, stats.ann_changed = sync_vectors(
                    db, layout, emb.name, emb.dim, rebuild=rebuild
                )
            new_keywords: list[str] = []
            stats.keywords = shared.made + sync_keywords(
                db, emb, batch=batch or settings.embed_batch, changed=new_keywords
            )
            reindex_papers(db, layout, [*shared.ids, *new_keywords])
        finally:
            # Search by meaning is ready (or this run stopped): the page stops showing progress.
            _write_json(layout.progress, {"finished": True})
        # Papers changed while we embedded reach the keyword index now rather than next run.
        stats.lexical_rev, more, stats.lexical_docs = sync_lexical(db, layout)
        stats.lexical_changed += more
        stats.published = (
            publish_lexical(layout, settings, stats.lexical_rev, stats.lexical_docs, changed=more)
            or stats.published
        )
    return stats


def publish_lexical(
    layout: Layout,
    settings: Settings,
    rev: int,
    docs: int,
    *,
    changed: int = 0,
    rebuilt: bool = False,
) -> str | None:
    """In publish mode, publish the caught-up keyword index as a generation; returns its name."""
    pub = publisher_for(settings)
    gen = layout.lexical_generation()
    if pub is None or gen is None:
        return None
    # The caller holds the indexer lock and Tantivy has committed: the folder is still.
    found = publish(
        pub,
        layout.lexical_root / gen,
        change_number=rev,
        docs=docs,
        keep=settings.index_publish_keep,
        changed=changed > 0,
        rebuilt=rebuilt,
    )
    return None if found is None else found.generation


def rich_progress() -> tuple[Any, Progress]:
    """A rich progress bar with rate and ETA, and the callback that drives it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    bar = RichProgress(
        TextColumn("embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    task = bar.add_task("embed", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def no_progress() -> tuple[Any, Progress | None]:
    """No progress display (cron and tests)."""
    return nullcontext(), None


def index_in_background(
    db: Database, settings: Settings, *, workers_embed: bool = False
) -> threading.Thread | None:
    """Build the keyword index now (seconds), then embed and build vectors in a daemon thread.

    For `paperfeed serve`: keyword search works at once and semantic search joins when the
    thread is done; another indexer already running is not an error. With more papers to embed
    than `index_on_start_max_embed` there is no thread: hours of embedding inside the server
    would take the CPU from its web workers, so that is left to `paperfeed index` or the worker.
    workers_embed (job_queue=postgres): on pgvector, where the vectors are the database's, the
    queue workers embed and serve builds nothing more.
    """
    try:
        run_index(db, settings, embed=False)
    except PaperfeedError as exc:
        log.info("keyword index not built at start: %s", exc)
    if workers_embed and vector_backend(db, settings) == "pgvector":
        log.info("search by meaning: the queue workers embed into PostgreSQL; serve embeds nothing")
        return None
    embedder = get_embedder(settings.embed_model, threads=settings.embed_threads)
    with db.read() as conn:
        pending = store_vectors.count_to_embed(conn, embedder.name)
    if pending > settings.index_on_start_max_embed:
        log.warning(
            "%d papers need vectors, more than PAPERFEED_INDEX_ON_START_MAX_EMBED (%d): serving "
            "keyword search only until `paperfeed index` (or `paperfeed worker`) embeds them",
            pending,
            settings.index_on_start_max_embed,
        )
        return None

    def work() -> None:
        try:
            stats = run_index(db, settings)
            log.info("search index ready: %d papers, %d vectors", stats.lexical_docs, stats.vectors)
        except PaperfeedError as exc:
            log.warning("background indexing stopped: %s", exc)
        except Exception:
            log.exception("background indexing failed")

    thread = threading.Thread(target=work, name="paperfeed-index", daemon=True)
    thread.start()
    return thread

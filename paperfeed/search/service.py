"""The search read path: parse, retrieve (lexical, semantic or hybrid), fuse, page, fetch papers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from paperfeed.config import Settings
from paperfeed.errors import NotFound, PaperfeedError
from paperfeed.models import Hit, Paper
from paperfeed.search import fusion
from paperfeed.search.embed import Embedder, get_embedder, paper_text
from paperfeed.search.lexical import SORTS, LexicalIndex, paper_key
from paperfeed.search.query import Query, QueryError, parse, words
from paperfeed.search.sync import Layout, _read_json, search_dir
from paperfeed.search.vectors import VectorIndex, from_bytes
from paperfeed.store import papers as store_papers
from paperfeed.store import vectors as store_vectors
from paperfeed.store.db import Database

MODES = ("hybrid", "lexical", "semantic")
MAX_LIMIT = 100
MAX_OFFSET = 10_000  # deep pages cost linear time; nobody reads past page 200
RELOAD_CHECK_SECONDS = 0.0  # checking is three stat() calls (~20 µs): do it every query


class SearchUnavailable(PaperfeedError):
    """The search indexes have not been built yet."""


@dataclass(slots=True)
class SearchResult:
    """One page of results: hits best first, their papers, snippets, and the total matched."""

    query: Query
    mode: str
    hits: list[Hit]
    papers: list[Paper]
    total: int
    snippets: dict[str, str] = field(default_factory=dict)  # id -> safe HTML with <mark>
    titles: dict[str, str] = field(default_factory=dict)  # id -> safe HTML with <mark>
    notes: list[str] = field(default_factory=list)
    redirect_id: str | None = None  # the query was an arXiv id: go to this paper
    limit: int = 10
    offset: int = 0


class SearchEngine:
    """Readers over one search folder; they reload when the indexer commits, never wait for it."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.layout = Layout(root)
        self.settings = settings
        self._lock = threading.Lock()
        self._lexical: LexicalIndex | None = None
        self._lexical_state: tuple[str | None, float] = (None, 0.0)
        self._ann: VectorIndex | None = None
        self._ann_state: tuple[float, str | None] = (0.0, None)
        self._checked = 0.0
        self._embedder: Embedder | None = None

    def _stat(self, path: Path) -> float:
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def refresh(self, *, force: bool = False) -> None:
        """Pick up a new keyword generation, a newer commit, or a newer ANN file."""
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_CHECK_SECONDS:
            return
        with self._lock:
            self._checked = now
            gen = self.layout.lexical_generation()
            lstate = (gen, self._stat(self.layout.lexical_meta(gen)) if gen else 0.0)
            if gen is None:
                self._lexical = None
            elif self._lexical is None or lstate[0] != self._lexical_state[0]:
                self._lexical = LexicalIndex(self.layout.lexical_root / gen)
            elif lstate != self._lexical_state:
                self._lexical.reload()
            self._lexical_state = lstate
            astate = (self._stat(self.layout.ann), _read_json(self.layout.ann_meta).get("model"))
            if astate != self._ann_state:
                # Load the new file fully before swapping: queries keep using the old one.
                ann = None
                if astate[0]:
                    try:
                        ann = VectorIndex.load(self.layout.ann)
                    except (OSError, RuntimeError, FileNotFoundError):
                        ann = None
                self._ann, self._ann_state = ann, astate

    @property
    def lexical(self) -> LexicalIndex:
        """The keyword index, or SearchUnavailable before the first `paperfeed index`."""
        self.refresh()
        if self._lexical is None:
            raise SearchUnavailable(
                "the search index has not been built yet: run `paperfeed index`"
            )
        return self._lexical

    @property
    def embedder(self) -> Embedder:
        """The query embedder (the same model the vectors were made with)."""
        if self._embedder is None:
            self._embedder = get_embedder(
                self.settings.embed_model, threads=self.settings.embed_threads
            )
        return self._embedder

    def ann(self) -> VectorIndex | None:
        """The ANN index when it exists and matches the configured model, else None."""
        self.refresh()
        if self._ann is None or len(self._ann) == 0:
            return None
        if self._ann_state[1] != self.embedder.name or self._ann.dim != self.embedder.dim:
            return None
        return self._ann


_ENGINES: dict[tuple[Path, str], SearchEngine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(settings: Settings) -> SearchEngine:
    """The process-wide engine for these settings' search folder."""
    key = (search_dir(settings).resolve(), settings.embed_model)
    with _ENGINES_LOCK:
        eng = _ENGINES.get(key)
        if eng is None:
            eng = _ENGINES[key] = SearchEngine(search_dir(settings), settings)
        return eng


def _semantic(
    eng: SearchEngine, q: Query, vector: np.ndarray, k: int, *, exclude: str | None = None
) -> list[Hit]:
    """Nearest papers to a vector that are still indexed and pass q's filters, best first."""
    ann = eng.ann()
    if ann is None:
        return []
    # Filters apply after the ANN search, so ask for more neighbours when filters narrow a lot.
    want = k * (5 if q.has_filters else 1) + (1 if exclude else 0)
    found = ann.search(vector, want)
    ids = eng.lexical.resolve_keys(q, [key for key, _ in found])
    return [Hit(ids[key], score) for key, score in found if key in ids and ids[key] != exclude][:k]


def _sort_hits(hits: list[Hit], papers: dict[str, Paper], sort: str) -> list[Hit]:
    if sort == "relevance":
        return hits

    def key(h: Hit) -> tuple[float, float]:
        p = papers.get(h.paper_id)
        if p is None:
            return (float("-inf"), 0.0)
        if sort == "date":
            d = p.published or p.updated or datetime.min
            return (d.timestamp() if d != datetime.min else float("-inf"), h.score)
        return (float(p.upvotes), h.score)

    return sorted(hits, key=key, reverse=True)


def search(
    db: Database,
    settings: Settings,
    text: str,
    *,
    mode: str = "hybrid",
    limit: int = 10,
    offset: int = 0,
    sort: str = "relevance",
    categories: list[str] | None = None,
    authors: list[str] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> SearchResult:
    """Search papers; raises QueryError (a clear message) for bad input, nothing else for text."""
    if mode not in MODES:
        raise QueryError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    q = parse(text).with_filters(
        categories=categories, authors=authors, date_from=date_from, date_to=date_to
    )
    res = SearchResult(query=q, mode=mode, hits=[], papers=[], total=0, limit=limit, offset=offset)
    res.notes.extend(q.notes)
    if q.arxiv_id:
        res.redirect_id = q.arxiv_id
        with db.read() as conn:
            p = store_papers.get_paper(conn, q.arxiv_id)
        if p is not None:
            res.hits, res.papers, res.total = [Hit(p.id, 1.0)], [p], 1
        return res
    if q.is_empty:
        return res
    eng = engine_for(settings)
    lex = eng.lexical
    use_mode = mode if q.has_text else "lexical"  # filters only: a date-ordered listing
    if use_mode != "lexical" and eng.ann() is None:
        res.notes.append(
            "semantic search is not ready yet (run `paperfeed index`): keyword results"
        )
        use_mode = "lexical"
    res.mode = use_mode

    if use_mode == "lexical":
        lr = lex.search(q, limit=limit, offset=offset, sort=sort)
        res.hits, res.total, res.snippets, res.titles = lr.hits, lr.total, lr.snippets, lr.titles
    else:
        n = max(settings.search_candidates, offset + limit)
        qvec = eng.embedder.embed([q.text])[0]
        dense = _semantic(eng, q, qvec, n)
        if use_mode == "semantic":
            fused = dense
            res.total = len(dense)
        else:
            lr = lex.search(q, limit=n, sort="relevance", snippets=False)
            w = settings.search_dense_weight
            if settings.search_fusion == "rrf":
                fused = fusion.rrf([dense, lr.hits], weights=[w, 1 - w])
            else:
                fused = fusion.weighted([dense, lr.hits], [w, 1 - w])
            res.total = max(lr.total, len(fused))
        if sort != "relevance":
            with db.read() as conn:
                cand = store_papers.get_papers(conn, [h.paper_id for h in fused])
            fused = _sort_hits(fused, cand, sort)
        res.hits = fused[offset : offset + limit]
        res.snippets, res.titles = lex.snippets_for(q, [h.paper_id for h in res.hits])

    with db.read() as conn:
        found = store_papers.get_papers(conn, [h.paper_id for h in res.hits])
    # The store is the truth: a paper hidden since the last index run is not shown.
    res.hits = [h for h in res.hits if h.paper_id in found]
    res.papers = [found[h.paper_id] for h in res.hits]
    return res


def similar(db: Database, settings: Settings, paper_id: str, k: int = 10) -> list[Hit]:
    """Papers nearest in meaning to a paper, blended with a little title-keyword signal."""
    with db.read() as conn:
        paper = store_papers.get_paper(conn, paper_id)
        if paper is None:
            raise NotFound(f"no paper {paper_id!r}")
    eng = engine_for(settings)
    try:
        lex = eng.lexical
    except SearchUnavailable:
        return []
    k = max(1, min(k, MAX_LIMIT))
    n = max(3 * k, 30)
    dense: list[Hit] = []
    ann = eng.ann()
    if ann is not None:
        vec = ann.get(paper_key(paper_id))
        if vec is None:
            with db.read() as conn:
                raw = store_vectors.get_vector(conn, paper_id, eng.embedder.name)
            vec = (
                from_bytes(raw)
                if raw is not None
                else eng.embedder.embed([paper_text(paper.title, paper.abstract)])[0]
            )
        dense = _semantic(eng, Query(), vec, n, exclude=paper_id)
    # The title's words as a keyword query: exact phrase overlap helps where meaning is close.
    title_q = Query(words=tuple(dict.fromkeys(words(paper.title)))[:32])
    lexical = [
        h for h in lex.search(title_q, limit=n + 1, snippets=False).hits if h.paper_id != paper_id
    ]
    if dense:
        hits = fusion.weighted([dense, lexical], [0.8, 0.2])
    else:
        hits = lexical
    return hits[:k]


def similar_papers(db: Database, settings: Settings, paper_id: str, k: int = 6) -> list[Paper]:
    """The similar papers themselves, for a paper page; empty when search is not built."""
    hits = similar(db, settings, paper_id, k)
    with db.read() as conn:
        found = store_papers.get_papers(conn, [h.paper_id for h in hits])
    return [found[h.paper_id] for h in hits if h.paper_id in found]

"""The search read path: parse, retrieve (lexical, semantic or hybrid), fuse, page, fetch papers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from paperfeed.config import Settings
from paperfeed.errors import NotFound, PaperfeedError
from paperfeed.models import Hit, Paper
from paperfeed.search import fusion
from paperfeed.search.embed import Embedder, get_embedder, paper_text
from paperfeed.search.lexical import SORTS, LexicalIndex, paper_key
from paperfeed.search.query import SOURCES, Query, QueryError, parse, words
from paperfeed.search.sync import EmbedProgress, Layout, _read_json, read_progress, search_dir
from paperfeed.search.vectors import VectorIndex, from_bytes
from paperfeed.store import fulltexts as store_fulltexts
from paperfeed.store import papers as store_papers
from paperfeed.store import vectors as store_vectors
from paperfeed.store.db import Database

MODES = ("hybrid", "lexical", "semantic")
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="paperfeed-search")
MAX_LIMIT = 120  # the Hub-shaped search API accepts up to 120
MAX_OFFSET = 10_000  # deep pages cost linear time; nobody reads past page 200


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
    embedding: EmbedProgress | None = None  # an indexer is embedding papers right now
    redirect_id: str | None = None  # the query was an arXiv id: go to this paper
    limit: int = 10
    offset: int = 0
    # id -> (section label, safe HTML with <mark>) for hits that matched only in the full text
    body_snippets: dict[str, tuple[str, str]] = field(default_factory=dict)


class SearchEngine:
    """Readers over one search folder; they reload when the indexer commits, never wait for it."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.layout = Layout(root)
        self.settings = settings
        self._lock = threading.Lock()
        self._lexical: LexicalIndex | None = None
        self._gen: str | None = None
        self._sig: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._ann: VectorIndex | None = None
        self._ann_model: str | None = None
        self._embedder: Embedder | None = None

    @staticmethod
    def _mtime(path: Path) -> int:
        try:
            return path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def refresh(self) -> None:
        """Pick up a new keyword generation, a newer commit, or a newer ANN file (4 stat calls)."""
        lay = self.layout
        cur = self._mtime(lay.current)
        meta = self._mtime(lay.lexical_meta(self._gen)) if self._gen else 0
        sig = (cur, meta, self._mtime(lay.ann), self._mtime(lay.ann_meta))
        if sig == self._sig:
            return
        with self._lock:
            if sig[0] != self._sig[0]:
                self._gen = lay.lexical_generation()
                self._lexical = LexicalIndex(lay.lexical_root / self._gen) if self._gen else None
                sig = (cur, self._mtime(lay.lexical_meta(self._gen)) if self._gen else 0, *sig[2:])
            elif sig[1] != self._sig[1] and self._lexical is not None:
                self._lexical.reload()
            if sig[2:] != self._sig[2:]:
                # Load the new file fully before swapping: queries keep using the old one.
                ann = None
                if sig[2]:
                    try:
                        ann = VectorIndex.load(lay.ann, view=True)
                    except (OSError, RuntimeError):
                        ann = None
                self._ann, self._ann_model = ann, _read_json(lay.ann_meta).get("model")
            self._sig = sig

    @property
    def lexical(self) -> LexicalIndex:
        """The keyword index, or SearchUnavailable before the first `paperfeed index`."""
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
        if self._ann is None or len(self._ann) == 0:
            return None
        if self._ann_model != self.embedder.name or self._ann.dim != self.embedder.dim:
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


def _dense_keys(
    eng: SearchEngine, q: Query, vector: np.ndarray, k: int, *, exclude: int | None = None
) -> list[Hit]:
    """Nearest papers to a vector, as Hits keyed by str(paper key), that pass q's filters."""
    ann = eng.ann()
    if ann is None:
        return []
    # Filters apply after the ANN search, so ask for more neighbours when filters narrow a lot.
    want = k * (5 if q.has_filters else 1) + (1 if exclude is not None else 0)
    found = ann.search(vector, want)
    if q.has_filters:
        ok = eng.lexical.filter_keys(q, [key for key, _ in found])
        found = [(key, score) for key, score in found if key in ok]
    # Without filters no check is needed here: the page's keys are resolved through the keyword
    # index, which drops a paper hidden since the ANN file was saved.
    return [Hit(str(key), score) for key, score in found if key != exclude][:k]


def _keyed_to_ids(eng: SearchEngine, hits: list[Hit]) -> list[Hit]:
    """Hits keyed by str(paper key) turned into Hits by paper id (unknown keys dropped)."""
    ids = eng.lexical.resolve_keys(None, [int(h.paper_id) for h in hits])
    return [Hit(ids[int(h.paper_id)], h.score) for h in hits if int(h.paper_id) in ids]


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
    lenient: bool = False,
) -> SearchResult:
    """Search papers; raises QueryError (a clear message) for bad input, nothing else for text."""
    if mode not in MODES:
        raise QueryError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    q = parse(text, lenient=lenient).with_filters(
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
    q = within_instance(q, settings)
    eng = engine_for(settings)
    eng.refresh()
    lex = eng.lexical
    use_mode = mode if q.has_text else "lexical"  # filters only: a date-ordered listing
    if use_mode != "lexical" and eng.ann() is None:
        res.embedding = read_progress(eng.layout)
        if res.embedding is not None:
            # The server (or the worker) is building it: say how far, not what to run.
            done, total = res.embedding.done, res.embedding.total
            res.notes.append(
                f"search by meaning: {done:,} of {total:,} papers ready; keyword results until then"
            )
        else:
            res.notes.append(
                "search by meaning is not ready yet (it is built by `paperfeed index`, "
                "or `paperfeed serve` at start): keyword results"
            )
        use_mode = "lexical"
    res.mode = use_mode

    if use_mode == "lexical":
        lr = lex.search(q, limit=limit, offset=offset, sort=sort)
        res.hits, res.total, res.snippets, res.titles = lr.hits, lr.total, lr.snippets, lr.titles
    else:
        # Both halves work on paper keys (fast fields, no stored-document reads); only the
        # page's hits are turned back into paper ids.
        n = max(settings.search_candidates, offset + limit)
        # The keyword half runs in a thread while the query is embedded: both release the GIL,
        # and on 2 cores this hides most of the BM25 time behind the model's.
        lex_future = _POOL.submit(lex.search_keys, q, limit=n) if use_mode == "hybrid" else None
        qvec = eng.embedder.embed([q.text])[0]
        dense = _dense_keys(eng, q, qvec, n)
        if lex_future is None:
            fused = dense
            res.total = len(dense)
        else:
            scored, lex_total = lex_future.result()
            lexical = [Hit(str(key), score) for key, score in scored]
            w = settings.search_dense_weight
            if settings.search_fusion == "rrf":
                fused = fusion.rrf([dense, lexical], weights=[w, 1 - w])
            else:
                fused = fusion.weighted([dense, lexical], [w, 1 - w])
            res.total = max(lex_total, len(fused))
        if sort != "relevance":
            fused = _keyed_to_ids(eng, fused)
            with db.read() as conn:
                cand = store_papers.get_papers(conn, [h.paper_id for h in fused])
            res.hits = _sort_hits(fused, cand, sort)[offset : offset + limit]
        else:
            res.hits = _keyed_to_ids(eng, fused[offset : offset + limit])
        res.snippets, res.titles = lex.snippets_for(q, [h.paper_id for h in res.hits])

    res.body_snippets = _body_snippets(db, lex, q, res)
    with db.read() as conn:
        found = store_papers.get_papers(conn, [h.paper_id for h in res.hits])
    # The store is the truth: a paper hidden since the last index run is not shown.
    res.hits = [h for h in res.hits if h.paper_id in found]
    res.papers = [found[h.paper_id] for h in res.hits]
    return res


def _body_snippets(
    db: Database, lex: LexicalIndex, q: Query, res: SearchResult
) -> dict[str, tuple[str, str]]:
    """The best-matching section of each hit whose title and abstract show no match."""
    need = [h.paper_id for h in res.hits if h.paper_id not in res.snippets | res.titles]
    if not need or not q.has_text:
        return {}
    with db.read() as conn:
        found = store_fulltexts.sections_of(conn, need)
    bodies = {pid: [(s.label, s.text) for s in secs if s.text] for pid, secs in found.items()}
    return lex.body_snippets(q, bodies)


def similar(db: Database, settings: Settings, paper_id: str, k: int = 10) -> list[Hit]:
    """Papers nearest in meaning to a paper, blended with a little shared-keyword signal."""
    with db.read() as conn:
        paper = store_papers.get_paper(conn, paper_id)
        if paper is None:
            raise NotFound(f"no paper {paper_id!r}")
    eng = engine_for(settings)
    eng.refresh()
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
        dense = _keyed_to_ids(eng, _dense_keys(eng, Query(), vec, n, exclude=paper_key(paper_id)))
    # Shared distinctive words help where meaning is close. A paper not indexed yet falls back to
    # its title's words as a query, which is slower on a large index (common words match most).
    lexical = lex.more_like(paper_id, limit=n)
    if not lexical:
        title_q = Query(words=tuple(dict.fromkeys(words(paper.title)))[:32])
        found = lex.search(title_q, limit=n + 1, snippets=False).hits
        lexical = [h for h in found if h.paper_id != paper_id]
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


# --- bio: a biology-only instance searches only its sources and categories (docs/biorxiv.md) ---


def within_instance(q: Query, settings: Settings) -> Query:
    """The query narrowed to PAPERFEED_SOURCES and PAPERFEED_CATEGORIES (never widened)."""
    listed = [s.strip().lower() for s in settings.sources.split(",") if s.strip()]
    if listed and set(SOURCES) - set(listed):
        kept = tuple(s for s in q.sources if s in listed) if q.sources else tuple(listed)
        q = replace(q, sources=kept or ("none",))
    cats = [c.strip().lower() for c in settings.categories.split(",") if c.strip()]
    if cats and not q.categories:
        q = replace(q, categories=tuple(cats))
    return q

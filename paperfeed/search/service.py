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
from paperfeed.search import fusion, tfidf
from paperfeed.search.ann import VectorBackend, configured, resolve
from paperfeed.search.ann_pgvector import PgvectorTables
from paperfeed.search.ann_usearch import UsearchFiles
from paperfeed.search.embed import Embedder, get_embedder, paper_text
from paperfeed.search.lexical import BODY_FIELD, SORTS, LexicalIndex, paper_keywords
from paperfeed.search.publication import PUBLISHED, follower_for
from paperfeed.search.query import SOURCES, Query, QueryError, parse
from paperfeed.search.sync import EmbedProgress, Layout, read_progress, search_dir
from paperfeed.search.vectors import from_bytes
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
        # In publish mode the keyword index is a fetched copy of the worker's published one.
        self.follower = follower_for(settings, root)
        self.layout = Layout(root, PUBLISHED) if self.follower else Layout(root)
        self.settings = settings
        self._lock = threading.Lock()
        self._lexical: LexicalIndex | None = None
        self._gen: str | None = None
        self._sig: tuple[int, int] = (0, 0)
        self._files = UsearchFiles(self.layout)
        self._pg: PgvectorTables | None = None
        self.backend = self._choose_backend()
        self._embedder: Embedder | None = None

    def _choose_backend(self) -> str:
        """'pgvector' when the database has it (or the setting forces it), else 'usearch'."""
        if configured(self.settings) == "usearch" or self.settings.database_url.startswith(
            "sqlite"
        ):
            return resolve(self.settings, pgvector_available=False)
        pg = PgvectorTables(self.settings)
        name = resolve(self.settings, pgvector_available=pg.available())
        self._pg = pg if name == "pgvector" else None
        return name

    @staticmethod
    def _mtime(path: Path) -> int:
        try:
            return path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def refresh(self) -> None:
        """Pick up a new keyword generation, a newer commit, or a newer ANN file (4 stat calls)."""
        if self.follower is not None:
            self.follower.poll()  # a newer published generation is fetched in the background
        lay = self.layout
        if self._pg is None:
            self._files.refresh()
        cur = self._mtime(lay.current)
        meta = self._mtime(lay.lexical_meta(self._gen)) if self._gen else 0
        sig = (cur, meta)
        if sig == self._sig:
            return
        with self._lock:
            if sig[0] != self._sig[0]:
                self._gen = lay.lexical_generation()
                self._lexical = LexicalIndex(lay.lexical_root / self._gen) if self._gen else None
                sig = (cur, self._mtime(lay.lexical_meta(self._gen)) if self._gen else 0)
            elif sig[1] != self._sig[1] and self._lexical is not None:
                self._lexical.reload()
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

    def ann(self) -> VectorBackend | None:
        """The vector backend when it holds vectors of the configured model, else None."""
        if self._pg is not None:
            return self._pg.current(self.embedder.name, self.embedder.dim)
        return self._files.current(self.embedder.name, self.embedder.dim)


_ENGINES: dict[tuple[Path, str, str], SearchEngine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(settings: Settings) -> SearchEngine:
    """The process-wide engine for these settings' search folder."""
    key = (search_dir(settings).resolve(), settings.embed_model, settings.vector_backend)
    with _ENGINES_LOCK:
        eng = _ENGINES.get(key)
        if eng is None:
            eng = _ENGINES[key] = SearchEngine(search_dir(settings), settings)
        return eng


def _dense_keys(
    eng: SearchEngine, q: Query, vector: np.ndarray, k: int, *, exclude: str | None = None
) -> list[Hit]:
    """Nearest papers to a vector, as Hits keyed by str(paper key), that pass q's filters."""
    ann = eng.ann()
    if ann is None:
        return []
    # pgvector filters inside its index scan (all but word exclusions); usearch filters after
    # the search, so it asks for more neighbours when filters narrow a lot.
    post = bool(q.excluded) if ann.filters_in_query else q.has_filters
    found = ann.nearest(vector, k * (5 if post else 1), q, exclude=exclude)
    if post:
        ok = eng.lexical.filter_keys(q, [key for key, _ in found])
        found = [(key, score) for key, score in found if key in ok]
    # Without filters no check is needed here: the page's keys are resolved through the keyword
    # index, which drops a paper hidden since the ANN file was saved.
    return [Hit(str(key), score) for key, score in found][:k]


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


SIMILAR_TOP_TERMS = 40  # a paper's heaviest TF-IDF terms make the candidate query
SIMILAR_LEXICAL_FIELDS = {"title": 2.0, "abstract": 1.0, "keywords": 1.0}  # as tfidf weighs them
SIMILAR_POOL = 100  # candidates from the term query, re-scored by exact cosine with the dense ones


@dataclass(slots=True)
class SimilarSignals:
    """The ranked lists similar() fuses, each best first (empty when its weight is zero)."""

    dense: list[Hit] = field(default_factory=list)
    tfidf: list[Hit] = field(default_factory=list)
    keywords: list[Hit] = field(default_factory=list)
    body: list[Hit] = field(default_factory=list)


def similar_signals(db: Database, settings: Settings, paper_id: str, n: int) -> SimilarSignals:
    """Each signal of similar() on its own: dense, TF-IDF cosine, shared keyphrases, full text."""
    with db.read() as conn:
        paper = store_papers.get_paper(conn, paper_id)
        if paper is None:
            raise NotFound(f"no paper {paper_id!r}")
        body = (
            [sec.text for sec in store_fulltexts.sections_of(conn, [paper_id]).get(paper_id, [])]
            if settings.similar_body_weight > 0
            else []
        )
    out = SimilarSignals()
    eng = engine_for(settings)
    eng.refresh()
    try:
        lex = eng.lexical
    except SearchUnavailable:
        return out
    ann = eng.ann() if settings.similar_dense_weight > 0 else None
    if ann is not None:
        vec = ann.vector_of(paper_id)
        if vec is None:
            with db.read() as conn:
                raw = store_vectors.get_vector(conn, paper_id, eng.embedder.name)
            vec = (
                from_bytes(raw)
                if raw is not None
                else eng.embedder.embed([paper_text(paper.title, paper.abstract)])[0]
            )
        found = _dense_keys(eng, Query(), vec, n, exclude=paper_id)
        out.dense = _keyed_to_ids(eng, found)
    # The seed is read from the store, not the index: a paper not indexed yet works the same.
    phrases = paper_keywords(paper)
    fields = {"title": [paper.title], "abstract": [paper.abstract], "keywords": phrases}
    counts = tfidf.counts(fields)
    n_docs, df = lex.doc_freqs(counts)
    seed = tfidf.vector(counts, tfidf.idf_table(n_docs, df))
    top = tfidf.top_terms(seed, SIMILAR_TOP_TERMS)
    if settings.similar_tfidf_weight > 0 and top:
        pool = lex.term_search(top, SIMILAR_LEXICAL_FIELDS, limit=SIMILAR_POOL, exclude=paper_id)
        cand = list(dict.fromkeys([h.paper_id for h in pool] + [h.paper_id for h in out.dense]))
        cand_counts = lex.term_counts(cand)
        n_docs, df = lex.doc_freqs(tfidf.all_terms(list(cand_counts.values())))
        idf = tfidf.idf_table(n_docs, df)
        ranked = tfidf.rank(seed, cand_counts, idf)
        out.tfidf = [Hit(pid, score) for pid, score in ranked[:n]]
    if settings.similar_keywords_weight > 0 and phrases:
        out.keywords = lex.keyword_search(phrases, limit=n, exclude=paper_id)
    if settings.similar_body_weight > 0 and top:
        # The body's own distinctive terms join the seed's when it has full text.
        if body:
            bc = tfidf.counts({**fields, "body": body})
            n_docs, df = lex.doc_freqs(bc)
            top = tfidf.top_terms(tfidf.vector(bc, tfidf.idf_table(n_docs, df)), SIMILAR_TOP_TERMS)
        out.body = lex.term_search(top, {BODY_FIELD: 1.0}, limit=n, exclude=paper_id)
    return out


def similar(db: Database, settings: Settings, paper_id: str, k: int = 10) -> list[Hit]:
    """Papers most like a paper: dense, TF-IDF, keyphrase and full-text signals, fused by weight."""
    k = max(1, min(k, MAX_LIMIT))
    sig = similar_signals(db, settings, paper_id, max(3 * k, 30))
    lists = [sig.dense, sig.tfidf, sig.keywords, sig.body]
    weights = [
        settings.similar_dense_weight,
        settings.similar_tfidf_weight,
        settings.similar_keywords_weight,
        settings.similar_body_weight,
    ]
    return fusion.weighted(lists, weights)[:k]


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

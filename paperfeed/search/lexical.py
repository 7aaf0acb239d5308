"""The keyword index: Tantivy BM25 with field boosts, filter fields and snippets."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import tantivy

from paperfeed.errors import PaperfeedError
from paperfeed.models import Hit, Paper
from paperfeed.normalize import id_month
from paperfeed.search.query import Query, QueryError
from paperfeed.search.tfidf import counts as tfidf_counts
from paperfeed.search.tfidf import terms

TEXT_FIELDS = ["title", "abstract", "authors"]
# Title words say what a paper is about far more than a passing mention in the abstract;
# author names are matched but should not outrank topical matches.
BOOSTS = {"title": 3.0, "abstract": 1.0, "authors": 0.5}
SNIPPET_CHARS = 320
WRITER_HEAP = 128_000_000  # bytes; Tantivy's default, enough for 10k-document batches
RAM_WRITER_HEAP = 50_000_000  # bytes; a day's new papers (a few thousand) for follow matching
SORTS = ("relevance", "date", "upvotes")

# --- full text: the body of papers whose HTML was fetched, one value per section ---
# Matched like the abstract but weighted lower: a 10,000-word body mentions far more in passing.
BODY_FIELD = "body"
BODY_BOOST = 0.3
TEXT_FIELDS = [*TEXT_FIELDS, BODY_FIELD]
BOOSTS = {**BOOSTS, BODY_FIELD: BODY_BOOST}
Body = list[tuple[str, str]]  # (section label, section text) pairs of one paper
# --- end full text ---
SOURCE_FIELD = "source"  # bio: the paper's source, for source:biorxiv (docs/biorxiv.md)

# --- similar (issue 16): a paper's keyphrases, HF's and ours, as a field of their own ---
# A query matching a keyphrase ranks the paper a little higher. bench/relevance.py: at 0.2 both
# tasks move by under 0.003 nDCG@10 either way, at 0.5 known-item lexical search lost 0.005;
# similar() matches a paper's keyphrases against this field.
KEYWORDS_FIELD = "keywords"
KEYWORDS_BOOST = 0.2
KEYWORDS_IN_QUERIES = True  # False: the field serves similar() only (bench/relevance.py compares)
TEXT_FIELDS = [*TEXT_FIELDS, KEYWORDS_FIELD]
BOOSTS = {**BOOSTS, KEYWORDS_FIELD: KEYWORDS_BOOST}
DF_CACHE = 200_000  # document frequencies remembered per index (about 20 MB at most)
COUNTS_CACHE = 20_000  # papers' term counts remembered per index (about 40 MB at most)
# --- end similar ---


def paper_key(paper_id: str) -> int:
    """A stable 63-bit integer for a paper id, shared by the keyword and vector indexes."""
    return int.from_bytes(hashlib.blake2b(paper_id.encode(), digest_size=8).digest(), "big") >> 1


def _day(d: date | datetime | None) -> int:
    return d.year * 10000 + d.month * 100 + d.day if d else 0


def build_schema() -> tantivy.Schema:
    """The Tantivy schema: stored text for snippets, fast fields for filters and sorting."""
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_unsigned_field("key", indexed=True, fast=True)
    sb.add_text_field("title", stored=True, tokenizer_name="en_stem")
    sb.add_text_field("abstract", stored=True, tokenizer_name="en_stem")
    sb.add_text_field("authors", stored=True, tokenizer_name="default")
    sb.add_text_field("cats", tokenizer_name="raw")  # 'cs.cl' and its archive 'cs'
    sb.add_integer_field("day", indexed=True, fast=True)  # YYYYMMDD of first version
    sb.add_integer_field("upvotes", indexed=False, fast=True)
    sb.add_text_field(BODY_FIELD, stored=False, tokenizer_name="en_stem")  # full text
    sb.add_text_field(KEYWORDS_FIELD, stored=True, tokenizer_name="en_stem")
    sb.add_text_field(SOURCE_FIELD, tokenizer_name="raw")  # arxiv, biorxiv or medrxiv
    return sb.build()


def document(p: Paper, body: Body | None = None) -> tantivy.Document:
    """The Tantivy document for a paper, with its full text's sections and its keyphrases."""
    doc = tantivy.Document()
    doc.add_text("id", p.id)
    doc.add_unsigned("key", paper_key(p.id))
    doc.add_text("title", p.title)
    doc.add_text("abstract", p.abstract)
    for a in p.authors:
        doc.add_text("authors", a)
    cats: dict[str, None] = {}
    for c in p.categories:
        c = c.strip().lower()
        if c:
            cats[c] = None
            cats[c.split(".", 1)[0]] = None
    for c in cats:
        doc.add_text("cats", c)
    # Without a version date the id still dates the paper to its month (date filters, sorting).
    doc.add_integer("day", _day(p.published or p.updated or id_month(p.id)))
    doc.add_integer("upvotes", int(p.upvotes))
    for _, text in body or ():
        doc.add_text(BODY_FIELD, text)
    for kw in paper_keywords(p):
        doc.add_text(KEYWORDS_FIELD, kw)
    doc.add_text(SOURCE_FIELD, p.source)
    return doc


def paper_keywords(p: Paper) -> list[str]:
    """A paper's keyphrases: HF's first, then ones extracted here, each once (case-insensitive)."""
    seen: dict[str, str] = {}
    for kw in [*p.ai_keywords, *p.local_keywords]:
        kw = " ".join(str(kw).split())
        if kw and kw.lower() not in seen:
            seen[kw.lower()] = kw
    return list(seen.values())


@dataclass(slots=True)
class LexicalResult:
    """Hits for one page, the number of matching papers, and highlighted snippets by id."""

    hits: list[Hit]
    total: int
    snippets: dict[str, str]  # paper id -> abstract fragment as safe HTML with <mark>
    titles: dict[str, str]  # paper id -> title as safe HTML with <mark>


class LexicalIndex:
    """One Tantivy index directory: search it, or write to it through `writer()`."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        self.schema = build_schema()
        if create:
            path.mkdir(parents=True, exist_ok=True)
            self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        else:
            if not tantivy.Index.exists(str(path)):
                raise PaperfeedError(f"no keyword index at {path}: run `paperfeed index`")
            self.index = tantivy.Index.open(str(path))

    @classmethod
    def in_memory(cls, papers: Iterable[Paper]) -> LexicalIndex:
        """A throwaway index of some papers held in RAM (follows match new papers against it)."""
        self = cls.__new__(cls)
        self.path = Path(":memory:")
        self.schema = build_schema()
        self.index = tantivy.Index(self.schema)
        writer = self.index.writer(RAM_WRITER_HEAP, 1)
        for p in papers:
            writer.add_document(document(p))
        writer.commit()
        self.index.reload()
        return self

    def reload(self) -> None:
        """See the latest commit (readers call this when the indexer has committed)."""
        self.index.reload()
        self.__dict__.pop("_counts", None)  # a paper's text may have changed

    def has_fields(self, names: Sequence[str]) -> bool:
        """True when the index on disk has these text fields (an older build may lack one)."""
        try:
            self.index.parse_query("x", list(names))
        except ValueError:
            return False
        return True

    @property
    def num_docs(self) -> int:
        """How many papers are indexed."""
        return int(self.index.searcher().num_docs)

    # --- writing ---

    def writer(self, threads: int = 1) -> tantivy.IndexWriter:
        """The single writer (Tantivy holds a lock file: a second writer fails)."""
        try:
            return self.index.writer(WRITER_HEAP, threads)
        except ValueError as exc:
            raise PaperfeedError(
                f"the keyword index at {self.path} is locked by another indexer ({exc}); "
                "wait for it to finish"
            ) from None

    @staticmethod
    def apply(
        writer: tantivy.IndexWriter,
        changes: Iterable[tuple[Paper, bool]],
        bodies: Mapping[str, Body] | None = None,
    ) -> int:
        """Replace or (when hidden) delete each paper's document; returns how many were added."""
        added = 0
        bodies = bodies or {}
        for paper, hidden in changes:
            writer.delete_documents_by_term("id", paper.id)
            if not hidden:
                writer.add_document(document(paper, bodies.get(paper.id)))
                added += 1
        return added

    # --- reading ---

    def _text_query(self, q: Query, *, every: bool = False) -> Any | None:
        text = q.tantivy_text()
        if every and text:  # each word and phrase required, as a saved search alert means it
            text = " ".join("+" + part for part in _parts(text))
        if not text:
            return None
        try:
            return self.index.parse_query(text, _query_fields(), BOOSTS)
        except ValueError:
            # Only words and quotes reach here, so this is not expected; keep it a clear error.
            raise QueryError("the search words could not be understood; try plain words") from None

    def _filter_queries(self, q: Query) -> list[Any]:
        s = self.schema
        out: list[Any] = []
        if q.categories:
            out.append(tantivy.Query.term_set_query(s, "cats", list(q.categories)))
        if q.sources:
            out.append(tantivy.Query.term_set_query(s, SOURCE_FIELD, list(q.sources)))
        for name in q.authors:
            if len(name) == 1:
                out.append(tantivy.Query.term_query(s, "authors", name[0]))
            else:
                out.append(tantivy.Query.phrase_query(s, "authors", list(name)))
        if q.date_from or q.date_to:
            out.append(
                tantivy.Query.range_query(
                    s,
                    "day",
                    tantivy.FieldType.Integer,
                    _day(q.date_from) if q.date_from else 0,
                    _day(q.date_to) if q.date_to else 99_999_999,
                )
            )
        return out

    def build(
        self,
        q: Query,
        *,
        text: bool = True,
        keys: Sequence[int] | None = None,
        every: bool = False,
    ) -> Any:
        """The Tantivy query: text scored, filters as zero-score constraints, exclusions.

        With `every`, a paper must hold every word and phrase (not just some of them).
        """
        Occur = tantivy.Occur
        clauses: list[tuple[Any, Any]] = []
        tq = self._text_query(q, every=every) if text else None
        if tq is not None:
            clauses.append((Occur.Must, tq))
        for f in self._filter_queries(q):
            clauses.append((Occur.Must, tantivy.Query.const_score_query(f, 0.0)))
        if keys is not None:
            ks = tantivy.Query.term_set_query(self.schema, "key", list(keys))
            clauses.append((Occur.Must, tantivy.Query.const_score_query(ks, 0.0)))
        if q.excluded:
            try:
                ex = self.index.parse_query(q.tantivy_excluded(), _query_fields())
            except ValueError:
                raise QueryError("the excluded words could not be understood") from None
            clauses.append((Occur.MustNot, ex))
        if not any(o == Occur.Must for o, _ in clauses):
            clauses.append((Occur.Must, tantivy.Query.all_query()))
        if len(clauses) == 1:
            return clauses[0][1]
        return tantivy.Query.boolean_query(clauses)

    def search(
        self,
        q: Query,
        *,
        limit: int = 10,
        offset: int = 0,
        sort: str = "relevance",
        snippets: bool = True,
    ) -> LexicalResult:
        """Ranked hits for a parsed query (BM25, or by date/upvotes), with the total count."""
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        query = self.build(q)
        searcher = self.index.searcher()
        if sort == "relevance" and not q.has_text:
            sort = "date"  # nothing to score: newest first
        order_by = None if sort == "relevance" else ("day" if sort == "date" else "upvotes")
        res = searcher.search(query, limit, count=True, order_by_field=order_by, offset=offset)
        docs = [(score, searcher.doc(addr)) for score, addr in res.hits]
        hits = [Hit(d["id"][0], float(score)) for score, d in docs]
        snips: dict[str, str] = {}
        titles: dict[str, str] = {}
        if snippets and docs and q.has_text:
            snips, titles = self._snippets(searcher, q, [d for _, d in docs])
        return LexicalResult(hits, int(getattr(res, "count", 0) or 0), snips, titles)

    def _snippets(
        self, searcher: Any, q: Query, docs: list[Any]
    ) -> tuple[dict[str, str], dict[str, str]]:
        tq = self._text_query(q)
        if tq is None:
            return {}, {}
        gen_a = tantivy.SnippetGenerator.create(searcher, tq, self.schema, "abstract")
        gen_a.set_max_num_chars(SNIPPET_CHARS)
        gen_t = tantivy.SnippetGenerator.create(searcher, tq, self.schema, "title")
        gen_t.set_max_num_chars(1000)
        snips: dict[str, str] = {}
        titles: dict[str, str] = {}
        for d in docs:
            pid = d["id"][0]
            a = gen_a.snippet_from_doc(d)
            if a.highlighted():
                snips[pid] = _mark(a.to_html())
            t = gen_t.snippet_from_doc(d)
            if t.highlighted():
                titles[pid] = _whole_marked(d["title"][0], t)
        return snips, titles

    def snippets_for(
        self, q: Query, paper_ids: Sequence[str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Highlighted abstract and title fragments for given papers (e.g. semantic hits)."""
        if not paper_ids or not q.has_text:
            return {}, {}
        searcher = self.index.searcher()
        keys = [paper_key(p) for p in paper_ids]
        res = searcher.search(
            tantivy.Query.term_set_query(self.schema, "key", keys), len(keys), count=False
        )
        docs = [searcher.doc(addr) for _, addr in res.hits]
        return self._snippets(searcher, q, docs)

    def search_keys(self, q: Query, *, limit: int) -> tuple[list[tuple[int, float]], int]:
        """Top (key, BM25 score) pairs and the total, without reading stored documents."""
        searcher = self.index.searcher()
        res = searcher.search(self.build(q), limit, count=True)
        addrs = [addr for _, addr in res.hits]
        keys = searcher.fast_field_values("key", addrs) if addrs else []
        scored = [(int(k or 0), float(sc)) for k, (sc, _) in zip(keys, res.hits, strict=True)]
        return scored, int(getattr(res, "count", 0) or 0)

    def filter_keys(self, q: Query, keys: Sequence[int]) -> set[int]:
        """The keys still indexed (visible) whose papers pass q's filters."""
        if not keys:
            return set()
        searcher = self.index.searcher()
        res = searcher.search(self.build(q, text=False, keys=keys), len(keys), count=False)
        addrs = [addr for _, addr in res.hits]
        return {int(k or 0) for k in searcher.fast_field_values("key", addrs)} if addrs else set()

    def resolve_keys(
        self, q: Query | None, keys: Sequence[int], *, limit: int | None = None
    ) -> dict[int, str]:
        """Paper ids for ANN keys still indexed (visible) and passing q's filters."""
        if not keys:
            return {}
        query = self.build(q, text=False, keys=keys) if q else None
        if query is None:
            query = tantivy.Query.term_set_query(self.schema, "key", list(keys))
        searcher = self.index.searcher()
        res = searcher.search(query, limit or len(keys), count=False)
        addrs = [addr for _, addr in res.hits]
        if not addrs:
            return {}
        got = searcher.fast_field_values("key", addrs)
        return {int(k or 0): searcher.doc(a)["id"][0] for k, a in zip(got, addrs, strict=True)}

    def more_like(self, paper_id: str, *, limit: int) -> list[Hit]:
        """Papers sharing this paper's most distinctive words (BM25 "more like this"), best first.

        Only words in under 5% of papers count, at most 25 of them, so a title full of common
        words does not turn into a query matching the whole index.
        """
        searcher = self.index.searcher()
        found = searcher.search(tantivy.Query.term_query(self.schema, "id", paper_id), 1).hits
        if not found:
            return []
        query = tantivy.Query.more_like_this_query(
            found[0][1],
            min_doc_frequency=1,
            max_doc_frequency=max(20, searcher.num_docs // 20),
            min_term_frequency=1,
            max_query_terms=25,
            min_word_length=2,
        )
        res = searcher.search(query, limit + 1, count=False)
        hits = [Hit(searcher.doc(addr)["id"][0], float(score)) for score, addr in res.hits]
        return [h for h in hits if h.paper_id != paper_id][:limit]

    # --- similar (issue 16): the lexical signals of paper-to-paper similarity ---

    def stored_fields(self, paper_ids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """Title, abstract and keyphrases of the indexed papers among these, by paper id."""
        if not paper_ids:
            return {}
        searcher = self.index.searcher()
        q = tantivy.Query.term_set_query(self.schema, "id", list(dict.fromkeys(paper_ids)))
        out: dict[str, dict[str, list[str]]] = {}
        for _, addr in searcher.search(q, len(paper_ids), count=False).hits:
            d = searcher.doc(addr)
            out[d["id"][0]] = {
                f: [str(v) for v in d.get_all(f)] for f in ("title", "abstract", KEYWORDS_FIELD)
            }
        return out

    def term_counts(self, paper_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Weighted term counts (tfidf.counts) of the indexed papers among these, by paper id."""
        cache: dict[str, dict[str, float]] = self.__dict__.setdefault("_counts", {})
        out = {pid: cache[pid] for pid in paper_ids if pid in cache}
        missing = [pid for pid in paper_ids if pid not in out]
        # Analysing ~150 candidates' text is most of a similar() call: neighbours recur.
        for pid, fields in self.stored_fields(missing).items():
            out[pid] = tfidf_counts(fields)
            if len(cache) >= COUNTS_CACHE:
                cache.clear()
            cache[pid] = out[pid]
        return out

    def doc_freqs(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """The number of papers and, per stemmed term, how many abstracts hold it."""
        cache: dict[str, int] = self.__dict__.setdefault("_df", {})
        searcher = self.index.searcher()
        n = int(searcher.num_docs)
        if self.__dict__.get("_df_n") != n:  # a commit changed the corpus: start afresh
            cache.clear()
            self.__dict__["_df_n"] = n
        out: dict[str, int] = {}
        for t in terms:
            df = cache.get(t)
            if df is None:
                df = int(searcher.doc_freq("abstract", t))
                if len(cache) < DF_CACHE:
                    cache[t] = df
            out[t] = df
        return n, out

    def term_search(
        self,
        weighted: Sequence[tuple[str, float]],
        fields: Mapping[str, float],
        *,
        limit: int,
        exclude: str | None = None,
    ) -> list[Hit]:
        """Papers scored by BM25 over some stemmed terms, each boosted by its weight, best first."""
        clauses = []
        for field_name, fb in fields.items():
            for term, w in weighted:
                tq = tantivy.Query.term_query(self.schema, field_name, term)
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(tq, w * fb)))
        return self._hits(clauses, limit, exclude)

    def keyword_search(
        self, phrases: Sequence[str], *, limit: int, exclude: str | None = None
    ) -> list[Hit]:
        """Papers whose keyphrases hold these phrases (BM25 on the keywords field), best first."""
        clauses = []
        for phrase in dict.fromkeys(p.lower() for p in phrases):
            ts: list[Any] = terms(phrase, every=True)
            if not ts:
                continue
            if len(ts) == 1:
                q = tantivy.Query.term_query(self.schema, KEYWORDS_FIELD, ts[0])
            else:
                q = tantivy.Query.phrase_query(self.schema, KEYWORDS_FIELD, ts)
            clauses.append((tantivy.Occur.Should, q))
        return self._hits(clauses, limit, exclude)

    def _hits(self, clauses: list[tuple[Any, Any]], limit: int, exclude: str | None) -> list[Hit]:
        if not clauses:
            return []
        searcher = self.index.searcher()
        res = searcher.search(tantivy.Query.boolean_query(clauses), limit + 1, count=False)
        hits = [Hit(searcher.doc(addr)["id"][0], float(score)) for score, addr in res.hits]
        return [h for h in hits if h.paper_id != exclude][:limit]

    # --- end similar ---

    def body_snippets(self, q: Query, bodies: Mapping[str, Body]) -> dict[str, tuple[str, str]]:
        """For each paper, the section whose text matches q best: (section label, safe HTML)."""
        tq = self._text_query(q)
        if tq is None or not bodies:
            return {}
        gen = tantivy.SnippetGenerator.create(self.index.searcher(), tq, self.schema, BODY_FIELD)
        gen.set_max_num_chars(SNIPPET_CHARS)
        out: dict[str, tuple[str, str]] = {}
        for pid, sections in bodies.items():
            best: tuple[int, str, str] | None = None
            for label, text in sections:
                doc = tantivy.Document()
                doc.add_text(BODY_FIELD, text)
                snip = gen.snippet_from_doc(doc)
                marks = len(snip.highlighted())
                if marks and (best is None or marks > best[0]):
                    best = (marks, label, _mark(snip.to_html()))
            if best is not None:
                out[pid] = (best[1], best[2])
        return out

    def matching_ids(self, q: Query, *, limit: int) -> list[str]:
        """Ids of the papers holding every word and phrase of q and passing its filters."""
        searcher = self.index.searcher()
        res = searcher.search(self.build(q, every=True), limit, count=False)
        return [searcher.doc(addr)["id"][0] for _, addr in res.hits]

    def contains(self, paper_id: str) -> bool:
        """True when the paper is indexed."""
        searcher = self.index.searcher()
        return bool(searcher.search(tantivy.Query.term_query(self.schema, "id", paper_id), 1).hits)


def _query_fields() -> list[str]:
    """The fields a searcher's words are matched in."""
    if KEYWORDS_IN_QUERIES:
        return TEXT_FIELDS
    return [f for f in TEXT_FIELDS if f != KEYWORDS_FIELD]


def _whole_marked(text: str, snippet: Any) -> str:
    """All of a text, escaped, with the snippet's highlights as <mark>.

    Tantivy's own fragment stops at the last word, which drops a title's closing "?", ")" or
    "}$"; its offsets are UTF-8 byte offsets into the text, relative to the fragment.
    """
    raw = text.encode()
    base = snippet.fragment_range().start
    out: list[str] = []
    pos = 0
    for r in snippet.highlighted():
        start, end = base + r.start, base + r.end
        if start < pos or end > len(raw):
            continue
        out.append(html.escape(raw[pos:start].decode(errors="replace")))
        out.append(f"<mark>{html.escape(raw[start:end].decode(errors='replace'))}</mark>")
        pos = end
    out.append(html.escape(raw[pos:].decode(errors="replace")))
    return "".join(out)


def _mark(html: str) -> str:
    # Tantivy escapes the text and wraps matches in <b>; use <mark> so pages can style it.
    return html.replace("<b>", "<mark>").replace("</b>", "</mark>")


def _parts(text: str) -> list[str]:
    """Split Tantivy text from Query.tantivy_text into its words and quoted phrases."""
    out: list[str] = []
    for i, chunk in enumerate(text.split('"')):
        if i % 2:
            out.append(f'"{chunk}"')
        else:
            out.extend(chunk.split())
    return out

"""Keyphrases of a paper from its title and abstract, ranked with the embedding model's token states.

Candidates are runs of 1-4 words between stopwords and punctuation. One model pass per paper
gives a contextual vector per token; a candidate's vector is the mean of its tokens' vectors, and
it scores by its cosine to the whole paper's vector plus position, frequency and shape features.
Maximal marginal relevance then keeps the list from repeating one idea.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paperfeed.search.embed import Embedder, TokenStates, paper_text, token_states

VERSION = "kw1"  # stored with each run: bump it when extraction changes, to extract again
MAX_WORDS = 4
DEFAULT_COUNT = 10
# Weights of the score's parts, tuned on papers 1000-1399 of bench/keywords.py's slice (the
# figures in docs/benchmarks.md are on papers 0-999).
W_COS = 1.0
W_FIRST = 0.19  # earlier first mention
W_FREQ = 0.18  # log of occurrences
W_TITLE = 0.0  # occurs in the title (tuning found no gain: the model already sees it)
W_WHOLE = 0.3  # the whole run between two delimiters, not a piece of it
W_LEN = 0.09  # per word beyond the first
W_SHAPE = 0.08  # has a capital inside or a digit/hyphen: a name (GPT-4o, DPG-Bench)
MMR_LAMBDA = 0.75  # relevance against novelty when picking the next phrase

# Function words and the verbs, adverbs and filler of abstracts: a phrase never starts or ends
# with one, and none is a keyword by itself.
STOPWORDS = frozenset(
    """
a about above across after again against all almost along already also although always am among
an and another any are around as at be because been before being below between both but by can
cannot could did do does doing done down during each either enough especially even ever every few
for from further had has have having he her here hers him his how however i if in into is it its
itself just least less like many may me might more most much must my neither no nor not now of
off often on once one only onto or other others otherwise our ours out over own per perhaps rather
same several she should since so some such than that the their theirs them then there therefore
these they this those though through thus to together too toward towards under until up upon us
very via was we well were what whatever when where whereas whether which while who whom whose why
will with within without would yet you your
achieve achieved achieves achieving address addressed addresses allow allows allowing apply
applied applying approach approaches based benefit better called capable compared comparing
consider considered consisting demonstrate demonstrated demonstrates demonstrating describe
described designed despite develop developed develops different directly due effective
effectively efficient efficiently enable enabled enables enabling enhance enhanced enhances
enhancing establish evaluate evaluated evaluates existing experiments extensive extensively
find findings first focus focuses focusing found fully given good great help helps high highly
identify improve improved improves improving include includes including introduce introduced
introduces introducing key large leads leverage leverages leveraging lot make makes making method
methods much named new novel obtain obtained offer offers outperform outperforming outperforms
paper particular particularly performance possible present presented presents previous previously
produce produces promising propose proposed proposes proposing provide provided provides providing
recent recently reduce reduces reducing remain remains require requires result results reveal
reveals second show showed showing shown shows significant significantly simple simply small
state strong study studies substantially successfully suggest superior surpass surpasses
surpassing task tasks three two use used uses using various wide widely work works yield yields
able across based toward whereby thereby still often show take takes taken like related
""".split()
)

MINED_STOPWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "keyword_stopwords.txt"


def _mined() -> frozenset[str]:
    try:
        lines = MINED_STOPWORDS_FILE.read_text().splitlines()
    except FileNotFoundError:
        return frozenset()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


STOP = STOPWORDS | _mined()
_WORD = re.compile(r"[^\W_](?:[\w\-./'’+]*[^\W_+])?\+*")
_MATH = re.compile(r"\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]", re.S)
_COMMAND = re.compile(r"\\[A-Za-z]+\*?")
_NUMBER = re.compile(r"^[\d.,%/+\-]+$")


@dataclass(frozen=True, slots=True)
class Keyword:
    """One extracted phrase as first written in the text, with its score (higher is better)."""

    phrase: str
    score: float


@dataclass(slots=True)
class _Word:
    text: str
    low: str
    key: str  # lower case, plural folded: see _key
    start: int
    end: int
    stop: bool
    shape: bool  # a capital inside, a digit or a hyphen


def _mask_latex(text: str) -> str:
    """The text with math and LaTeX commands blanked to spaces (offsets unchanged)."""

    def blank(m: re.Match[str]) -> str:
        return " " * len(m.group(0))

    text = _MATH.sub(lambda m: "|" + " " * (len(m.group(0)) - 1), text)  # math breaks a phrase
    text = _COMMAND.sub(blank, text)
    return text.replace("{", " ").replace("}", " ")


def _fold(w: str) -> str:
    if len(w) > 3 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def _key(low: str) -> str:
    """A phrase's identity for counting and de-duplication: lower case, plurals folded."""
    return " ".join(_fold(w) for w in low.replace("-", " ").split())


def _runs(text: str) -> list[list[_Word]]:
    """Runs of words with no punctuation between them, stopwords kept (flagged)."""
    masked = _mask_latex(text)
    runs: list[list[_Word]] = []
    cur: list[_Word] = []
    last = 0
    for m in _WORD.finditer(masked):
        gap = masked[last : m.start()]
        if cur and gap.strip():
            runs.append(cur)
            cur = []
        raw = m.group(0).rstrip(".'’/")
        low = raw.lower()
        bad = (
            low in STOP
            or "/" in low
            or "@" in low
            or _NUMBER.match(low) is not None
            or len(low) < 2
        )
        shape = "-" in raw or raw[1:] != raw[1:].lower() or any(ch.isdigit() for ch in raw)
        cur.append(_Word(raw, low, _key(low), m.start(), m.start() + len(raw), bad, shape))
        last = m.start() + len(raw)
        if m.end() != last:  # a trailing dot or slash ended a sentence or a pair
            runs.append(cur)
            cur = []
            last = m.end()
    if cur:
        runs.append(cur)
    return runs


@dataclass(slots=True)
class _Candidate:
    key: str
    phrase: str
    first: int  # character offset of the first occurrence
    spans: list[tuple[int, int]]
    words: int
    whole: bool
    in_title: bool
    shape: bool


def candidates(title: str, abstract: str) -> tuple[str, list[_Candidate]]:
    """The embedded text and its candidate phrases (1-4 words, no stopword at either end)."""
    text = paper_text(title, abstract)
    title_end = len(re.sub(r"\s+", " ", title.strip()))
    found: dict[str, _Candidate] = {}
    for run in _runs(text):
        # Split the run at stopwords: the pieces are the maximal stopword-free spans.
        pieces: list[list[_Word]] = []
        cur: list[_Word] = []
        for w in run:
            if w.stop:
                if cur:
                    pieces.append(cur)
                cur = []
            else:
                cur.append(w)
        if cur:
            pieces.append(cur)
        for piece in pieces:
            n = len(piece)
            for i in range(n):
                for j in range(i + 1, min(n, i + MAX_WORDS) + 1):
                    ws = piece[i:j]
                    start, end = ws[0].start, ws[-1].end
                    key = " ".join(w.key for w in ws)
                    c = found.get(key)
                    if c is None:
                        shape = any(w.shape for w in ws)
                        c = found[key] = _Candidate(
                            key, text[start:end], start, [], j - i, False, start < title_end, shape
                        )
                    c.spans.append((start, end))
                    c.whole = c.whole or (i == 0 and j == n)
    return text, list(found.values())


def _features(text_len: int, cands: Sequence[_Candidate]) -> np.ndarray:
    """Per candidate: first position, log frequency, in title, whole run, extra words, shape."""
    raw = np.array(
        [(c.first, len(c.spans), c.in_title, c.whole, c.words - 1, c.shape) for c in cands],
        dtype=np.float32,
    ).reshape(-1, 6)
    raw[:, 0] = 1.0 - raw[:, 0] / max(text_len, 1)
    raw[:, 1] = np.log1p(raw[:, 1])
    return raw


_WEIGHTS = np.array([W_FIRST, W_FREQ, W_TITLE, W_WHOLE, W_LEN, W_SHAPE], dtype=np.float32)


def _candidate_vectors(
    states: TokenStates, cands: Sequence[_Candidate]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean token vector of each candidate's occurrences, unit length; and which had tokens."""
    vecs = states.vectors
    if not len(vecs):
        return np.zeros((len(cands), vecs.shape[1]), dtype=np.float32), np.zeros(len(cands), bool)
    # All occurrences at once (a paper has ~500): owner candidate, character start and end.
    owner = np.fromiter((i for i, c in enumerate(cands) for _ in c.spans), dtype=np.int64)
    spans = np.array([sp for c in cands for sp in c.spans], dtype=np.int64).reshape(-1, 2)
    a = np.searchsorted(states.offsets[:, 1], spans[:, 0], side="right")  # first token ending after
    b = np.searchsorted(states.offsets[:, 0], spans[:, 1], side="left")  # tokens starting before
    ok = b > a
    owner, a, n = owner[ok], a[ok], (b - a)[ok]
    # Prefix sums make each occurrence's mean O(1); a BLAS product (candidates x tokens) would
    # be as fast but wakes OpenBLAS's threads, whose spinning made the whole step 8x slower.
    csum = np.vstack([np.zeros((1, vecs.shape[1]), dtype=np.float32), np.cumsum(vecs, axis=0)])
    out = np.zeros((len(cands), vecs.shape[1]), dtype=np.float32)
    np.add.at(out, owner, (csum[a + n] - csum[a]) / n[:, None].astype(np.float32))
    seen = np.zeros(len(cands), dtype=bool)
    seen[owner] = True
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms, seen


def _rank(cands: list[_Candidate], rel: np.ndarray, vecs: np.ndarray, count: int) -> list[Keyword]:
    """Pick up to count phrases by maximal marginal relevance, never one inside a picked one."""
    order = list(np.argsort(-rel))[: max(count * 6, 30)]
    picked: list[int] = []
    while order and len(picked) < count:
        if picked:
            sim = vecs[order] @ vecs[picked].T
            mmr = MMR_LAMBDA * rel[order] - (1 - MMR_LAMBDA) * sim.max(axis=1)
            best = int(np.argmax(mmr))
        else:
            best = 0
        i = order.pop(best)
        key = f" {cands[i].key} "
        if any(key in f" {cands[j].key} " or f" {cands[j].key} " in key for j in picked):
            continue
        picked.append(i)
    return [Keyword(cands[i].phrase, round(float(rel[i]), 4)) for i in picked]


def extract_many(
    embedder: Embedder, papers: Sequence[tuple[str, str]], *, count: int = DEFAULT_COUNT
) -> list[list[Keyword]]:
    """Keyphrases for each (title, abstract), best first, with one model pass per paper."""
    states = token_states(embedder, [paper_text(t, a) for t, a in papers])
    return extract_with_states(papers, states, count=count)


def extract_with_states(
    papers: Sequence[tuple[str, str]], states: Sequence[TokenStates], *, count: int = DEFAULT_COUNT
) -> list[list[Keyword]]:
    """Keyphrases for each (title, abstract) from its text's token states (the indexer's pass)."""
    out: list[list[Keyword]] = []
    for (title, abstract), st in zip(papers, states, strict=True):
        text, cands = candidates(title, abstract)
        if not cands:
            out.append([])
            continue
        vecs, seen = _candidate_vectors(st, cands)
        cos = vecs @ st.pooled
        # A phrase past the model's window has no vector: it competes on its other features,
        # at the mean similarity of the phrases that have one.
        if seen.any():
            cos = np.where(seen, cos, float(cos[seen].mean()))
        rel = W_COS * cos + _features(len(text), cands) @ _WEIGHTS
        out.append(_rank(cands, rel.astype(np.float32), vecs, count))
    return out


def extract(
    embedder: Embedder, title: str, abstract: str, *, count: int = DEFAULT_COUNT
) -> list[Keyword]:
    """Keyphrases of one paper, best first."""
    return extract_many(embedder, [(title, abstract)], count=count)[0]

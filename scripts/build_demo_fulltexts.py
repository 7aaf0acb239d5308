"""Build paperfeed/data/demo_fulltexts.json.gz from the real LaTeXML pages in tests/fixtures.

Run from the repository root: python scripts/build_demo_fulltexts.py
Each entry holds the paper (title, authors and abstract read from its page; no licence is
recorded, as the arXiv API gives none, so the demo shows it index-only) and its parsed full text.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
import sys
from pathlib import Path

from lxml import html as lxml_html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.sources.arxiv_html import parse  # noqa: E402

PAGES = {  # paper id, version, primary category (from the page's own watermark or arXiv)
    "arxiv.org_html_2501.11120v1.html.gz": ("2501.11120", 1, ["cs.CL", "cs.AI", "cs.LG"]),
    "arxmliv_latexml_1307.8133.html.gz": ("1307.8133", 1, ["cond-mat.soft"]),
    "arxmliv_latexml_astro-ph9710163.html.gz": ("astro-ph/9710163", 1, ["astro-ph"]),
    "arxmliv_latexml_0903.1000.html.gz": ("0903.1000", 1, ["math.PR"]),
}
OUT = ROOT / "paperfeed" / "data" / "demo_fulltexts.json.gz"


def _clean(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def main() -> None:
    entries = []
    for name, (pid, version, cats) in PAGES.items():
        raw = gzip.decompress((ROOT / "tests" / "fixtures" / "arxiv_html" / name).read_bytes())
        ft = parse(raw)
        assert ft is not None, name
        tree = lxml_html.fromstring(raw)
        abstract = " ".join(
            _clean(p.text_content())
            for p in tree.xpath("//div[contains(@class,'ltx_abstract')]//p")
        )
        authors = []
        for el in tree.xpath("//span[contains(@class,'ltx_personname')]"):
            text = el.text_content().strip()
            # arXiv's 2025 pages put all names in one span, em-space separated, numbered
            # affiliations after them; the older pages have one name (then its notes) a span.
            pieces = re.split(r"[\u2003\n]", text) if "\u2003" in text else text.split("\n")[:1]
            for piece in pieces:
                piece = piece.strip()
                if piece[:1].isdigit():
                    break
                name = _clean(re.sub(r"[\d,*†]+(?:affiliation:.*)?$", "", piece))
                if name and name not in authors:
                    authors.append(name)
        paper = {"id": pid, "version": version, "title": _clean(ft.title), "abstract": abstract}
        paper |= {"authors": authors, "categories": cats, "license": None}
        entries.append(
            {
                "paper": paper,
                "source_url": f"https://arxiv.org/html/{pid}v{version}",
                "fulltext": dataclasses.asdict(ft),
            }
        )
    with gzip.open(OUT, "wt", encoding="utf-8") as fh:
        json.dump(entries, fh, ensure_ascii=False)
    print(f"wrote {len(entries)} full texts to {OUT}")


if __name__ == "__main__":
    main()

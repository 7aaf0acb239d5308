"""The bundled demo sample: every paper names its authors and no v1 date contradicts its id."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date, timedelta

from paperfeed.cli import SAMPLE
from paperfeed.models import ImportRecord
from paperfeed.sources.files import read_file

_YYMM = re.compile(r"^(?:[a-z][a-z\-]*(?:\.[A-Z]{2})?/)?(\d\d)(\d\d)")


def _id_month(paper_id: str) -> date:
    # Written out again here so that the check does not trust the importer's own helper.
    m = _YYMM.match(paper_id)
    assert m, paper_id
    yy, mm = int(m.group(1)), int(m.group(2))
    return date((1900 if yy >= 91 else 2000) + yy, mm, 1)


def test_every_sample_paper_has_authors_and_a_first_version_date_that_fits_its_id() -> None:
    records = list(read_file(SAMPLE))
    assert all(isinstance(r, ImportRecord) for r in records)
    papers = [r.paper for r in records if isinstance(r, ImportRecord)]
    assert 4_000 < len(papers) < 6_000
    assert [p.id for p in papers if not p.authors] == []
    wrong = []
    for p in papers:
        if p.published is None:
            continue
        month = _id_month(p.id)
        month_end = (month + timedelta(days=32)).replace(day=1)  # +1 day of time-zone slack
        if not (month.replace(year=month.year - 1) <= p.published.date() <= month_end):
            wrong.append((p.id, p.published.date().isoformat()))
    assert wrong == []


def test_the_sample_file_itself_carries_no_contradicting_dates_and_stays_small() -> None:
    # The raw lines, not only what the importer makes of them: an older importer reads them too.
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    late = [
        r["id"]
        for r in rows
        if r["published"]
        and date.fromisoformat(r["published"][:10])
        > (_id_month(r["id"]) + timedelta(days=32)).replace(day=1)
    ]
    assert late == [] and all(r["authors"] for r in rows)
    # Real submitters only where a recorded day has them (2026-08-21's raw API answer).
    days = {e["day"] for r in rows for e in r["feed"] if e["submitted_by"]}
    assert days == {"2026-08-21"}
    assert SAMPLE.stat().st_size < 6_600_000  # the sample of 4,887 papers it replaced: 3.3 MB

"""While an indexer embeds, searches say how far it is and the log shows progress."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from _search_helpers import load, sample_papers, settings_for
from fastapi.testclient import TestClient

from paperfeed.search import search
from paperfeed.search.sync import Layout, read_progress, run_index, search_dir
from paperfeed.store import Database
from paperfeed.web import create_app


def test_search_during_embedding_shows_progress_not_a_command(
    sqlite_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    load(sqlite_db, sample_papers(600))
    settings = settings_for(sqlite_db, tmp_path)
    run_index(sqlite_db, settings, embed=False)  # keyword search first, as `serve` does
    client = TestClient(create_app(settings, sqlite_db))
    seen: list[tuple[int, int, str, str]] = []

    def during(done: int, total: int) -> None:
        if 0 < done < total:
            res = search(sqlite_db, settings, "neural networks")
            page = client.get("/search", params={"q": "neural networks"}).text
            seen.append((done, total, " ".join(res.notes), page))

    caplog.set_level(logging.INFO, logger="paperfeed.search.sync")
    run_index(sqlite_db, settings, progress=during)
    assert seen, "the sample is embedded in several chunks"
    done, total, notes, page = seen[0]
    assert notes == (
        f"search by meaning: {done:,} of {total:,} papers ready; keyword results until then"
    )
    assert "run" not in notes and "`" not in page.split('id="main"')[1]
    assert f"search by meaning: {done:,} of {total:,} papers ready" in page
    # The log says how far embedding is, at least at the start of a chunk and at the end.
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("embedded")]
    assert lines[-1] == f"embedded {total} of {total} papers"
    # Done: no progress left behind, and search by meaning answers.
    assert read_progress(Layout(search_dir(settings))) is None
    res = search(sqlite_db, settings, "neural networks")
    assert res.mode == "hybrid" and res.notes == []


def test_progress_of_a_dead_indexer_is_ignored(sqlite_db: Database, tmp_path: Path) -> None:
    load(sqlite_db)
    settings = settings_for(sqlite_db, tmp_path)
    run_index(sqlite_db, settings, embed=False)
    layout = Layout(search_dir(settings))
    # A pid far above Linux's pid_max (4194304) belongs to no process: a crashed indexer's file.
    layout.progress.write_text('{"pid": 99999999, "done": 3, "total": 9, "finished": false}')
    assert read_progress(layout) is None
    res = search(sqlite_db, settings, "attention")
    note = " ".join(res.notes)
    assert note.startswith("search by meaning is not ready yet") and "of 9" not in note
    # The command in the note is shown as code on the page, not as literal backticks.
    page = TestClient(create_app(settings, sqlite_db)).get("/search?q=attention").text
    assert "<code>paperfeed index</code>" in page and "`paperfeed index`" not in page
